/**
 * HPR's probe training step as one ONNX graph, for every candidate layer at once (METHODS.md §2.3–2.4):
 * f_probe(a) = sigmoid(θᵀa) with no bias, binary cross-entropy with label 1 for a⁺ and 0 for a⁻.
 *
 * Inputs:
 *   positive      float [layers, batch, width]  a⁺ of each token pair
 *   negative      float [layers, batch, width]  a⁻ of the same pairs
 *   pair_weights  float [layers, batch]         weight of each pair's two losses at each layer: 1 / (2·kept·layers)
 *                                               for pairs kept at that layer, 0 for dropped ones
 *   probe         float [layers, width]         θ per layer
 *   (mode 'train') probe.first/.second and the optimizer scalars (graph-pieces.ts)
 * Outputs:
 *   loss          float []                      Σ weights · BCE, i.e. the per-layer mean BCE averaged over layers
 *   mode 'train': probe.next, probe.first.next, probe.second.next after the last step; the batch inputs, scalars
 *   and loss of step k > 0 are named with `stepInput(name, k)`
 *   mode 'gradients': gradient.probe [layers, width]
 * The evaluation graph maps rows [layers, rows, width] to logits θᵀa [layers, rows].
 */
import type { ModelProto } from '../../onnx/proto.ts'
import { GraphOps, type FloatType } from '../../onnx/graph-ops.ts'
import {
  adamWStep,
  declareOptimizerInputs,
  declareOptimizerState,
  outputOptimizerState,
  softplus,
  stepInput,
  type AdamWConstants,
  type OptimizerState,
} from './graph-pieces.ts'

/** What a training graph returns besides its loss. */
export type TrainingGraphMode = 'train' | 'gradients'

/** Sizes and numerics of a probe graph. */
export interface ProbeGraphOptions {
  layers: number
  width: number
  floatType: FloatType
  mode: TrainingGraphMode
  adamW: AdamWConstants
  /** AdamW steps unrolled in one run (mode 'train'; default 1). */
  steps?: number
}

/** Graph input and parameter names of the probe graphs. */
export const probeNames = {
  positive: 'positive',
  negative: 'negative',
  pairWeights: 'pair_weights',
  probe: 'probe',
  rows: 'rows',
  logits: 'logits',
} as const

/** Name of the output holding ∂loss/∂`parameter` in 'gradients' mode. */
export function gradientOutput(parameter: string): string {
  return `gradient.${parameter}`
}

/** [layers, batch, width] · θ [layers, width] → [layers, batch]. */
function logits(ops: GraphOps, rows: string, probe: string): string {
  const column = ops.op('Unsqueeze', [probe, ops.ints([2])])
  return ops.op('Squeeze', [ops.matmul(rows, column), ops.ints([2])])
}

/**
 * Build the probe training graph: `steps` AdamW steps unrolled (mode 'train'; each step reads its own batch and
 * scalars, named with `stepInput`, and outputs its loss as `stepInput('loss', step)`), or one forward/backward
 * pass with the gradient as output (mode 'gradients'). The probes are tiny, so a step's cost is the run's fixed
 * overhead; unrolling shares it between steps.
 */
export function buildProbeTrainingGraph(options: ProbeGraphOptions): ModelProto {
  const { layers, width, floatType } = options
  const steps = options.mode === 'train' ? (options.steps ?? 1) : 1
  const ops = new GraphOps(floatType)
  const builder = ops.builder
  const dims = [layers, width]
  let state: OptimizerState = {
    parameter: builder.input(probeNames.probe, floatType, dims),
    first: '',
    second: '',
  }
  if (options.mode === 'train') {
    declareOptimizerInputs(ops, steps)
    state = declareOptimizerState(ops, probeNames.probe, dims)
  }
  for (let step = 0; step < steps; step++) {
    const positive = builder.input(stepInput(probeNames.positive, step), floatType, [
      layers,
      `batch_${step}`,
      width,
    ])
    const negative = builder.input(stepInput(probeNames.negative, step), floatType, [
      layers,
      `batch_${step}`,
      width,
    ])
    const weights = builder.input(stepInput(probeNames.pairWeights, step), floatType, [
      layers,
      `batch_${step}`,
    ])
    const probe = state.parameter
    // BCE with logits: −log σ(z⁺) = softplus(−z⁺) and −log(1 − σ(z⁻)) = softplus(z⁻).
    const positiveLogits = ops.scoped(`step.${step}/forward`, () => logits(ops, positive, probe))
    const negativeLogits = ops.scoped(`step.${step}/forward`, () => logits(ops, negative, probe))
    const loss = ops.scoped(`step.${step}/loss`, () => {
      const perPair = ops.add(softplus(ops, ops.neg(positiveLogits)), softplus(ops, negativeLogits))
      return ops.op('ReduceSum', [ops.mul(perPair, weights)], { keepdims: 0 })
    })
    builder.output(ops.identity(loss, stepInput('loss', step)), floatType, [])

    // dz⁺ = w·(σ(z⁺) − 1), dz⁻ = w·σ(z⁻); dθ = Σ_rows dz·a   [layers, width].
    const gradient = ops.scoped(`step.${step}/backward`, () => {
      const positiveSlope = ops.mul(ops.sub(ops.op('Sigmoid', [positiveLogits]), ops.scalar(1)), weights)
      const negativeSlope = ops.mul(ops.op('Sigmoid', [negativeLogits]), weights)
      const through = (slope: string, rows: string): string =>
        ops.matmul(ops.op('Unsqueeze', [slope, ops.ints([1])]), rows)
      const summed = ops.add(through(positiveSlope, positive), through(negativeSlope, negative))
      return ops.op('Squeeze', [summed, ops.ints([1])])
    })
    if (options.mode === 'gradients') {
      builder.output(ops.identity(gradient, gradientOutput(probeNames.probe)), floatType, dims)
    } else {
      state = ops.scoped(`step.${step}/optimizer`, () => adamWStep(ops, state, gradient, options.adamW, step))
    }
  }
  if (options.mode === 'train') outputOptimizerState(ops, probeNames.probe, state, dims)
  return builder.toModel({ producerName: 'tiller-hpr-probe' })
}

/** Build the probe evaluation graph: rows [layers, rows, width], probe [layers, width] → logits [layers, rows]. */
export function buildProbeEvaluationGraph(layers: number, width: number): ModelProto {
  const ops = new GraphOps('float32')
  const builder = ops.builder
  const rows = builder.input(probeNames.rows, 'float32', [layers, 'rows', width])
  const probe = builder.input(probeNames.probe, 'float32', [layers, width])
  builder.output(ops.identity(logits(ops, rows, probe), probeNames.logits), 'float32', [layers, 'rows'])
  return builder.toModel({ producerName: 'tiller-hpr-probe-evaluation' })
}
