import * as ort from 'onnxruntime-node'
import { encodeModel } from '../../main/core/onnx/proto.ts'
import type { TrainingBatch } from './batches.ts'
import type { FloatType } from '../../main/core/onnx/graph-ops.ts'
import {
  buildTrainingGraph,
  gradientName,
  trainingInputs,
  type TrainingGraphOptions,
} from './training-graph.ts'

/** Weights as fed to the graph: float32 for training, float64 for gradient checks. */
export type WeightValues = Map<string, Float32Array | Float64Array>

/** What one run of the training graph returns. */
export interface StepResult {
  loss: number
  /** The separation term's value (mean squared cosine), for a graph built with it. */
  separation?: number
  /** ∂loss/∂weight by weight name, same layout as the weight. */
  gradients: Map<string, Float32Array | Float64Array>
  /** `[batch, seq, vocab]`, when the graph was built with `outputLogits`. */
  logits?: Float32Array | Float64Array
}

/** Runs the training-step graph on batches: one ONNX Runtime session, created once. */
export interface StepRunner {
  run(weights: WeightValues, batch: TrainingBatch): Promise<StepResult>
  release(): Promise<void>
}

function floatTensor(
  floatType: FloatType,
  values: Float32Array | Float64Array,
  dims: readonly number[],
): ort.Tensor {
  return new ort.Tensor(floatType === 'float32' ? 'float32' : 'float64', values, dims)
}

/** Build the training graph for `options` and open a session on it (`threads` intra-op threads, default 2). */
export async function createStepRunner(options: TrainingGraphOptions, threads = 2): Promise<StepRunner> {
  const model = buildTrainingGraph(options)
  const session = await ort.InferenceSession.create(encodeModel(model), {
    executionProviders: ['cpu'],
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
  })
  const { config, batch: rows, sequence, floatType } = options
  const shapes = new Map(model.graph.input.map((info) => [info.name, info]))
  const weightDims = (name: string): number[] =>
    (shapes.get(name)?.type?.tensorType?.shape?.dim ?? []).map((dim) => Number(dim.dimValue ?? 0))
  return {
    async run(weights, batch) {
      const feeds: Record<string, ort.Tensor> = {
        [trainingInputs.inputIds]: new ort.Tensor('int64', batch.inputIds, [rows, sequence]),
        [trainingInputs.targets]: new ort.Tensor('int64', batch.targets, [rows, sequence]),
        [trainingInputs.lossWeights]: floatTensor(floatType, batch.lossWeights, [rows, sequence]),
        [trainingInputs.attentionBias]: floatTensor(floatType, batch.attentionBias, [
          rows,
          1,
          sequence,
          sequence,
        ]),
        [trainingInputs.cos]: floatTensor(floatType, batch.cos, [rows, 1, sequence, config.headDim]),
        [trainingInputs.sin]: floatTensor(floatType, batch.sin, [rows, 1, sequence, config.headDim]),
      }
      for (const [name, values] of weights) feeds[name] = floatTensor(floatType, values, weightDims(name))
      if (options.separation !== undefined) {
        if (batch.contrastWeights === undefined)
          throw new Error('this training graph has a separation term; the batch needs contrast weights')
        feeds[trainingInputs.contrastWeights] = floatTensor(floatType, batch.contrastWeights, [
          options.separation.groups,
          rows * sequence,
        ])
      }
      const outputs = await session.run(feeds)
      const gradients = new Map<string, Float32Array | Float64Array>()
      for (const name of options.backward === false ? [] : weights.keys()) {
        const tensor = outputs[gradientName(name)]
        if (tensor === undefined) throw new Error(`the training graph returned no gradient for ${name}`)
        gradients.set(name, tensor.data as Float32Array | Float64Array)
      }
      const loss = Number((outputs.loss?.data as Float32Array | Float64Array | undefined)?.[0] ?? Number.NaN)
      const logits = outputs.logits?.data as Float32Array | Float64Array | undefined
      const separation = (outputs.separation?.data as Float32Array | Float64Array | undefined)?.[0]
      return {
        loss,
        gradients,
        ...(logits === undefined ? {} : { logits }),
        ...(separation === undefined ? {} : { separation: Number(separation) }),
      }
    },
    async release() {
      await session.release()
    },
  }
}
