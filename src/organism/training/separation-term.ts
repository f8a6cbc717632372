import type { Placement } from './batches.ts'
import type { FloatType, GraphOps } from '../../main/core/onnx/graph-ops.ts'

/**
 * The separation term: a training signal that keeps the mean-difference directions of several contrasts (the
 * organism's behaviours, each with two personas) apart inside the model. For each layer's output it forms, per
 * contrast, the mean over positive spans minus the mean over negative spans of the batch's activations (each span
 * weighing as one example, as a mean-difference fit over completions does), and adds the mean over layers and
 * contrast pairs of their squared cosines, times a weight, to the loss. It tests whether behaviours that share
 * directions are why an edit for one behaviour moves another (the organism README has the trials).
 */

/** The term's settings: contrasts, weight in the loss, and whether its gradient holds the norms constant. */
export interface SeparationSettings {
  groups: number
  weight: number
  fixedNorms?: boolean
}

/** Tokens `[start, end)` of one document that show side `sign` of contrast `group`. */
export interface ContrastSpan {
  group: number
  sign: 1 | -1
  start: number
  end: number
}

/** A small constant under the square root of a norm, so a contrast absent from the batch gives cosines of 0. */
const normEpsilon = 1e-12

/**
 * The contrast weights `[groups, rows · sequence]` of a batch packed as `placements`: row g holds +1/(spans · length) on the tokens of each positive
 * span of contrast g and −1/(spans · length) on each negative one, so its product with the activations
 * `[batch · seq, hidden]` is that contrast's mean difference. A contrast missing one side in the batch gets a
 * zero row (no direction, no gradient).
 */
export function contrastWeights(
  spansByDocument: readonly (readonly ContrastSpan[])[],
  placements: readonly Placement[],
  groups: number,
  rows: number,
  sequence: number,
  floatType: FloatType,
): Float32Array | Float64Array {
  const tokens = rows * sequence
  const weights =
    floatType === 'float32' ? new Float32Array(groups * tokens) : new Float64Array(groups * tokens)
  const counts = Array.from({ length: groups }, () => ({ positive: 0, negative: 0 }))
  for (const spans of spansByDocument.slice(0, placements.length)) {
    for (const span of spans) {
      const count = counts[span.group]
      if (count === undefined) throw new RangeError(`contrast group ${span.group} is not below ${groups}`)
      if (span.sign > 0) count.positive++
      else count.negative++
    }
  }
  placements.forEach((placement, document) => {
    for (const span of spansByDocument[document] ?? []) {
      const count = counts[span.group] as { positive: number; negative: number }
      if (count.positive === 0 || count.negative === 0 || span.end <= span.start) continue
      const value = span.sign / ((span.sign > 0 ? count.positive : count.negative) * (span.end - span.start))
      const first = placement.row * sequence + placement.offset
      for (let position = span.start; position < span.end; position++)
        weights[span.group * tokens + first + position] = value
    }
  })
  return weights
}

/** What the forward part keeps for the backward part. */
export interface SeparationSaved {
  /** Unit mean differences `[groups, hidden]` */
  unit: string
  /** 1 / ‖mean difference‖ `[groups, 1]` */
  inverseNorm: string
  /** Cosines with the diagonal zeroed `[groups, groups]` */
  offDiagonal: string
}

/** What the term's graph pieces share: the contrast weights input, an off-diagonal mask `[groups, groups]`, settings. */
export interface SeparationContext {
  contrastWeights: string
  offDiagonalMask: string
  /** Contrast pairs times layers: the count the squared cosines are averaged over. */
  terms: number
  settings: SeparationSettings
}

/**
 * One layer's part: activations `[n, hidden]` → the sum over contrast pairs of squared cosines `[]`
 * (scaled by 1 / `terms`, so the layers' parts add up to the mean).
 */
export function separationForward(
  ops: GraphOps,
  context: SeparationContext,
  activations: string,
): { value: string; saved: SeparationSaved } {
  const differences = ops.matmul(context.contrastWeights, activations)
  const squaredNorm = ops.reduceSum(ops.mul(differences, differences), [-1], true)
  const inverseNorm = ops.op('Reciprocal', [ops.op('Sqrt', [ops.add(squaredNorm, ops.scalar(normEpsilon))])])
  const unit = ops.mul(differences, inverseNorm)
  const offDiagonal = ops.mul(ops.matmulTransposeB(unit, unit), context.offDiagonalMask)
  // Each pair appears twice in the symmetric matrix.
  const value = ops.scale(
    ops.op('ReduceSum', [ops.mul(offDiagonal, offDiagonal)], { keepdims: 0 }),
    0.5 / context.terms,
  )
  return { value, saved: { unit, inverseNorm, offDiagonal } }
}

/**
 * Backward of `separationForward` for the term's weight in the loss: with C the masked cosines, U the unit
 * differences and r the inverse norms, dU = 2·k·C·U (k = settings.weight / terms), dD = r·(dU − U·Σ(dU ⊙ U)),
 * d activations = contrast weightsᵀ · dD `[n, hidden]`. The exact gradient of a cosine is orthogonal to the
 * difference, so finite steps along it turn a difference and lengthen it. With `fixedNorms` the norms are held
 * constant (dD = r·dU), which adds a component along −D: each difference sheds its overlap with the others instead.
 */
export function separationBackward(
  ops: GraphOps,
  context: SeparationContext,
  saved: SeparationSaved,
): string {
  const { weight, fixedNorms } = context.settings
  const dUnit = ops.scale(ops.matmul(saved.offDiagonal, saved.unit), (2 * weight) / context.terms)
  const radial =
    fixedNorms === true
      ? dUnit
      : ops.sub(dUnit, ops.mul(saved.unit, ops.reduceSum(ops.mul(dUnit, saved.unit), [-1], true)))
  return ops.matmulTransposeA(context.contrastWeights, ops.mul(saved.inverseNorm, radial))
}
