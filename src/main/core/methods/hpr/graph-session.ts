/**
 * Runs HPR's training graphs: one ONNX Runtime session per graph, parameters and AdamW moments carried between
 * steps as tensors (fed in, read back from the graph's `.next` outputs), so the optimizer's arithmetic runs in the
 * graph too.
 */
import * as ort from 'onnxruntime-node'
import { encodeModel, type ModelProto } from '../../onnx/proto.ts'
import type { FloatType } from '../../organism/training/graph-ops.ts'
import { optimizerInputs, stateNames, type AdamWConstants } from './graph-pieces.ts'

/** A float32 parameter with its dims. */
export interface GraphParameter {
  values: Float32Array
  dims: number[]
}

/**
 * Open a CPU session on `model` with `threads` intra-op threads (results are deterministic per thread count).
 * float64 graphs (gradient checks) run unoptimized: ONNX Runtime's graph rewrites lose precision on the erf
 * series' long constant chain (erf(6) came out as 0.99998 instead of 1).
 */
export async function openSession(
  model: ModelProto,
  threads: number,
  floatType: FloatType = 'float32',
): Promise<ort.InferenceSession> {
  return ort.InferenceSession.create(encodeModel(model), {
    executionProviders: ['cpu'],
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: floatType === 'float32' ? 'all' : 'disabled',
  })
}

/** A float32 tensor over `values` (no copy). */
export function floatTensor(values: Float32Array, dims: readonly number[]): ort.Tensor {
  return new ort.Tensor('float32', values, dims)
}

/** Steps a training graph built in 'train' mode: feeds parameters and moments, keeps the updated ones. */
export class GraphOptimizer {
  readonly parameters: Map<string, GraphParameter>
  private readonly first = new Map<string, Float32Array>()
  private readonly second = new Map<string, Float32Array>()
  private steps = 0

  constructor(
    private readonly session: ort.InferenceSession,
    parameters: Map<string, GraphParameter>,
    private readonly constants: AdamWConstants,
  ) {
    this.parameters = parameters
    for (const [name, parameter] of parameters) {
      this.first.set(name, new Float32Array(parameter.values.length))
      this.second.set(name, new Float32Array(parameter.values.length))
    }
  }

  /** One forward/backward/AdamW step on `batch` at `learningRate`; returns the batch loss before the update. */
  async step(batch: Record<string, ort.Tensor>, learningRate: number): Promise<number> {
    this.steps++
    const scalar = (value: number): ort.Tensor => new ort.Tensor('float32', new Float32Array([value]), [])
    const feeds: Record<string, ort.Tensor> = {
      ...batch,
      [optimizerInputs.learningRate]: scalar(learningRate),
      [optimizerInputs.firstCorrection]: scalar(1 / (1 - this.constants.beta1 ** this.steps)),
      [optimizerInputs.secondCorrection]: scalar(1 / (1 - this.constants.beta2 ** this.steps)),
    }
    for (const [name, parameter] of this.parameters) {
      const names = stateNames(name)
      feeds[name] = floatTensor(parameter.values, parameter.dims)
      feeds[names.first] = floatTensor(this.first.get(name) as Float32Array, parameter.dims)
      feeds[names.second] = floatTensor(this.second.get(name) as Float32Array, parameter.dims)
    }
    const outputs = await this.session.run(feeds)
    for (const [name, parameter] of this.parameters) {
      const names = stateNames(name)
      parameter.values = outputs[names.next]?.data as Float32Array
      this.first.set(name, outputs[names.nextFirst]?.data as Float32Array)
      this.second.set(name, outputs[names.nextSecond]?.data as Float32Array)
    }
    return Number((outputs.loss?.data as Float32Array)[0])
  }
}
