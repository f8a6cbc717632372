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
 *   (mode 'train') probe.first/.second, learning_rate, first_correction, second_correction (graph-pieces.ts)
 * Outputs:
 *   loss          float []                      Σ weights · BCE, i.e. the per-layer mean BCE averaged over layers
 *   mode 'train': probe.next, probe.first.next, probe.second.next (one AdamW step)
 *   mode 'gradients': gradient.probe [layers, width]
 * The evaluation graph maps rows [layers, rows, width] to logits θᵀa [layers, rows].
 */
import type { ModelProto } from '../../onnx/proto.ts'
import { GraphOps, type FloatType } from '../../onnx/graph-ops.ts'
import { adamWUpdate, declareOptimizerInputs, softplus, type AdamWConstants } from './graph-pieces.ts'

/** What a training graph returns besides its loss. */
export type TrainingGraphMode = 'train' | 'gradients'

/** Sizes and numerics of a probe graph. */
export interface ProbeGraphOptions {
  layers: number
  width: number
  floatType: FloatType
  mode: TrainingGraphMode
  adamW: AdamWConstants
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

/** Build the probe training step (forward, hand-derived backward, optionally the AdamW update). */
export function buildProbeTrainingGraph(options: ProbeGraphOptions): ModelProto {
  const { layers, width, floatType } = options
  const ops = new GraphOps(floatType)
  const builder = ops.builder
  const positive = builder.input(probeNames.positive, floatType, [layers, 'batch', width])
  const negative = builder.input(probeNames.negative, floatType, [layers, 'batch', width])
  const weights = builder.input(probeNames.pairWeights, floatType, [layers, 'batch'])
  const probe = builder.input(probeNames.probe, floatType, [layers, width])
  if (options.mode === 'train') declareOptimizerInputs(ops)

  // BCE with logits: −log σ(z⁺) = softplus(−z⁺) and −log(1 − σ(z⁻)) = softplus(z⁻).
  const positiveLogits = ops.scoped('forward', () => logits(ops, positive, probe))
  const negativeLogits = ops.scoped('forward', () => logits(ops, negative, probe))
  const loss = ops.scoped('loss', () => {
    const perPair = ops.add(softplus(ops, ops.neg(positiveLogits)), softplus(ops, negativeLogits))
    return ops.op('ReduceSum', [ops.mul(perPair, weights)], { keepdims: 0 })
  })
  builder.output(ops.identity(loss, 'loss'), floatType, [])

  // dz⁺ = w·(σ(z⁺) − 1), dz⁻ = w·σ(z⁻); dθ = Σ_rows dz·a   [layers, width].
  const gradient = ops.scoped('backward', () => {
    const positiveSlope = ops.mul(ops.sub(ops.op('Sigmoid', [positiveLogits]), ops.scalar(1)), weights)
    const negativeSlope = ops.mul(ops.op('Sigmoid', [negativeLogits]), weights)
    const through = (slope: string, rows: string): string =>
      ops.matmul(ops.op('Unsqueeze', [slope, ops.ints([1])]), rows)
    const summed = ops.add(through(positiveSlope, positive), through(negativeSlope, negative))
    return ops.op('Squeeze', [summed, ops.ints([1])])
  })
  if (options.mode === 'gradients') {
    builder.output(ops.identity(gradient, gradientOutput(probeNames.probe)), floatType, [layers, width])
  } else {
    ops.scoped('optimizer', () => adamWUpdate(ops, probe, gradient, [layers, width], options.adamW))
  }
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
