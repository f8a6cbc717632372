/**
 * Runs HPR's training graphs: one ONNX Runtime session per graph. `GraphOptimizer` steps graphs with AdamW inside
 * them (the probes, whose few thousand weights make a step's cost the run's fixed cost, so several steps are
 * unrolled into one run), carrying parameters and moments between runs as tensors (fed in, read back from the
 * graph's `.next` outputs). The angle networks' 2.6 M weights take the fused kernel instead (fused-adamw.ts).
 */
import * as ort from 'onnxruntime-node'
import { encodeModel, type ModelProto } from '../../onnx/proto.ts'
import type { FloatType } from '../../onnx/graph-ops.ts'
import { optimizerScalars, stateNames, stepInput, type AdamWConstants } from './graph-pieces.ts'

/** A float32 parameter with its dims. */
export interface GraphParameter {
  values: Float32Array
  dims: number[]
}

/**
 * Open a CPU session on `model` with `threads` intra-op threads (results are deterministic per thread count).
 * float64 graphs (gradient checks) run unoptimized: ONNX Runtime's graph rewrites lose precision on the erf
 * series' long constant chain (erf(6) came out as 0.99998 instead of 1). The pool's threads sleep instead of
 * spinning between operators: a training step is hundreds of short operators, and on a busy machine spinning
 * threads take the cores from the ones with work (an angle step under load took half the CPU time and a third
 * of the wall time without spinning; docs/performance.md "Fit cost").
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
    extra: { session: { intra_op: { allow_spinning: '0' }, inter_op: { allow_spinning: '0' } } },
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
  private stepCount = 0

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
    return (await this.steps(this.session, [batch], [learningRate]))[0] as number
  }

  /**
   * `batches.length` consecutive steps in one run of `session` (a graph with that many steps unrolled), the k-th
   * on `batches[k]` at `learningRates[k]`; returns each step's loss.
   */
  async steps(
    session: ort.InferenceSession,
    batches: ReadonlyArray<Record<string, ort.Tensor>>,
    learningRates: readonly number[],
  ): Promise<number[]> {
    const scalar = (value: number): ort.Tensor => new ort.Tensor('float32', new Float32Array([value]), [])
    const feeds: Record<string, ort.Tensor> = {}
    batches.forEach((batch, step) => {
      this.stepCount++
      for (const [name, tensor] of Object.entries(batch)) feeds[stepInput(name, step)] = tensor
      const scalars = optimizerScalars(this.constants, this.stepCount, learningRates[step] as number)
      for (const [name, value] of Object.entries(scalars)) feeds[stepInput(name, step)] = scalar(value)
    })
    for (const [name, parameter] of this.parameters) {
      const names = stateNames(name)
      feeds[name] = floatTensor(parameter.values, parameter.dims)
      feeds[names.first] = floatTensor(this.first.get(name) as Float32Array, parameter.dims)
      feeds[names.second] = floatTensor(this.second.get(name) as Float32Array, parameter.dims)
    }
    const outputs = await session.run(feeds)
    for (const [name, parameter] of this.parameters) {
      const names = stateNames(name)
      parameter.values = outputs[names.next]?.data as Float32Array
      this.first.set(name, outputs[names.nextFirst]?.data as Float32Array)
      this.second.set(name, outputs[names.nextSecond]?.data as Float32Array)
    }
    return batches.map((_, step) => Number((outputs[stepInput('loss', step)]?.data as Float32Array)[0]))
  }
}
