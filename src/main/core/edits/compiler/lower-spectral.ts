import type { Op } from '../../../../shared/edit.ts'
import { applyFeatureMap, invertFeatureMap } from './feature-map.ts'
import type { Lowering } from './lowering.ts'
import { LoweringMath } from './lowering-math.ts'

/**
 * `spectral` (SEA, Φ-SEA; METHODS.md §1.5, §1.8) per token h `[width]`, with orthonormal rows K⁺ `[k⁺, width]`
 * (keep) and K⁻ `[k⁻, width]` (remove):
 *   z = φ(h)  (phiMode code: z = h)     z⁺ = K⁺ᵀK⁺z     z⁻ = z − K⁻ᵀK⁻z     h± = φ⁻¹(z±)
 *   SEA(h) = sum: h⁺ + h⁻ | average: (h⁺ + h⁻)/2 | norm: (h⁺ + h⁻)·‖h‖/‖h⁺ + h⁻‖ (h itself when ‖h⁺ + h⁻‖ = 0)
 *          | feature-norm: y = h⁺ + h⁻ with each feature scaled by ‖x_i‖/‖y_i‖, norms over the positions of the
 *            row where the gate is non-zero (the released code's l2_norm over the tokens of one forward call;
 *            feature i keeps h_i where ‖y_i‖ = 0)
 *   delta = α·mask · (SEA(h) − h)
 * Projections are thin MatMul pairs (`[batch, seq, width] → [batch, seq, k] → [batch, seq, width]`): one pair for
 * both factors in linear SEA, one per factor in Φ-SEA; a rank of 0 gives z⁺ = 0, resp. z⁻ = z. The feature maps'
 * clamps keep SEA(h) finite for finite h; a non-finite SEA(h) − h (overflow of ‖h‖² beyond float32, or the 0/0 of
 * a zero ‖h⁺ + h⁻‖) is replaced by 0, which keeps h and keeps strength 0 exact (0·NaN would be NaN).
 */

/** The largest finite float32. */
const largestFloat32 = 3.4028234663852886e38

/** K `[rank, width]` row-major as its transpose `[width, rank]`. */
function transpose(rows: Float32Array, rank: number, width: number): Float32Array {
  const columns = new Float32Array(width * rank)
  for (let row = 0; row < rank; row++)
    for (let column = 0; column < width; column++)
      columns[column * rank + row] = rows[row * width + column] ?? 0
  return columns
}

/**
 * Linear SEA's h⁺ + h⁻ = z + K⁺ᵀK⁺z − K⁻ᵀK⁻z as z + (z·[K⁺ᵀ | K⁻ᵀ])·[K⁺; −K⁻]: one pair of thin MatMuls for
 * both factors (`[batch, seq, width] → [batch, seq, k⁺ + k⁻] → [batch, seq, width]`). A decode step runs every
 * node of the edit for a single token, so each node saved counts.
 */
function linearSum(math: LoweringMath, z: string, op: Extract<Op, { kind: 'spectral' }>): string {
  const { width } = math
  const rank = op.keepRank + op.removeRank
  if (rank === 0) return z
  // [K⁺; K⁻] [rank, width]; the second product subtracts the removed rows.
  const basis = new Float32Array(rank * width)
  basis.set(op.keep.subarray(0, op.keepRank * width))
  basis.set(op.remove.subarray(0, op.removeRank * width), op.keepRank * width)
  const columns = transpose(basis, rank, width)
  const rows = basis.map((value, index) => (index < op.keepRank * width ? value : -value))
  const coordinates = math.op('MatMul', [z, math.tensor('factors_t', [width, rank], columns)], 'coordinates')
  const update = math.op('MatMul', [coordinates, math.tensor('factors', [rank, width], rows)], 'update')
  return math.add(z, update, 'sum')
}

/** K⁺ᵀK⁺z `[batch, seq, width]` for orthonormal rows `basis` `[rank, width]` (rank ≥ 1). */
function project(math: LoweringMath, z: string, basis: Float32Array, rank: number, name: string): string {
  const { width } = math
  const columns = math.tensor(`${name}_t`, [width, rank], transpose(basis, rank, width))
  const rows = math.tensor(name, [rank, width], basis.subarray(0, rank * width))
  const coordinates = math.op('MatMul', [z, columns], `${name}_coordinates`)
  return math.op('MatMul', [coordinates, rows], `${name}_projected`)
}

/**
 * y with each feature rescaled to the norm x has over the row's active positions (gate ≠ 0): `[batch, seq, width]`.
 * The sums over positions are batched MatMuls with the active mask as a row, `[batch, 1, seq] · [batch, seq, width]`,
 * so padding and base rows (gate 0) take no part and no op depends on the graph's opset.
 */
function featureNorm(math: LoweringMath, gate: string, x: string, y: string): string {
  const active = math.op('Not', [math.op('Equal', [gate, math.scalar(0)], 'gate_zero')], 'gate_active')
  // [batch, seq, 1] → [batch, 1, seq]
  const weights = math.op(
    'Transpose',
    // ONNX element type 1: float32.
    [math.op('Cast', [active], 'active_weights', { to: 1 })],
    'active_row',
    { perm: [0, 2, 1] },
  )
  // Σ over active positions of x², y²: [batch, 1, width]
  const inputSquares = math.op('MatMul', [weights, math.mul(x, x, 'input_squared')], 'input_feature_squares')
  const sumSquares = math.op('MatMul', [weights, math.mul(y, y, 'sum_squared')], 'sum_feature_squares')
  const scale = math.div(
    math.op('Sqrt', [inputSquares], 'input_feature_norms'),
    math.op('Sqrt', [sumSquares], 'sum_feature_norms'),
    'feature_ratio',
  )
  const nonzero = math.op('Greater', [sumSquares, math.scalar(0)], 'sum_feature_nonzero')
  return math.where(nonzero, math.mul(y, scale, 'feature_renormed'), x, 'feature_norm')
}

export const lowerSpectral: Lowering<'spectral'> = (context, input, op) => {
  const math = new LoweringMath(context.editor, context.label, context.width)
  const sum = op.phi === 'identity' ? linearSum(math, input, op) : featureMapSum(math, input, op)
  if (op.merge === 'norm') return normMergeDelta(math, context.gate, input, sum)
  let merged = sum
  if (op.merge === 'average') merged = math.mul(sum, math.scalar(0.5), 'average')
  else if (op.merge === 'feature-norm') merged = featureNorm(math, context.gate, input, sum)
  const change = math.finiteOrZero(math.sub(merged, input, 'change'), 'change_finite')
  return math.mul(context.gate, change, 'Mul')
}

/**
 * The norm merge's delta α·mask·(sum·‖h‖/‖sum‖ − h). Only the ratio ‖h‖/‖sum‖ can be non-finite for a finite h (a zero
 * ‖sum‖, or ‖h‖² beyond float32 inside the norm): the token then keeps h, as the merge's definition asks, by one
 * Where on the ratio's finiteness rather than a finiteness test of every element.
 */
function normMergeDelta(math: LoweringMath, gate: string, input: string, sum: string): string {
  const ratio = math.div(math.norm(input, 'input_norm'), math.norm(sum, 'sum_norm'), 'norm_ratio')
  // NaN and +Inf compare false.
  const finite = math.op('LessOrEqual', [ratio, math.scalar(largestFloat32)], 'norm_ratio_finite')
  const change = math.mul(gate, math.sub(math.mul(sum, ratio, 'renormed'), input, 'change'), 'Mul')
  return math.where(finite, change, math.scalar(0), 'change_finite')
}

/** Φ-SEA's h⁺ + h⁻ = φ⁻¹(K⁺ᵀK⁺z) + φ⁻¹(z − K⁻ᵀK⁻z), z = φ(h) (phiMode code: z = h). */
function featureMapSum(math: LoweringMath, input: string, op: Extract<Op, { kind: 'spectral' }>): string {
  const z = op.phiMode === 'paper' ? applyFeatureMap(math, op.phi, input, 'phi') : input
  const kept =
    op.keepRank > 0
      ? project(math, z, op.keep, op.keepRank, 'keep')
      : math.tensor('keep_zero', [math.width], new Float32Array(math.width))
  const remaining =
    op.removeRank > 0 ? math.sub(z, project(math, z, op.remove, op.removeRank, 'remove'), 'removed') : z
  const positive = invertFeatureMap(math, op.phi, kept, 'inverse_keep')
  const negative = invertFeatureMap(math, op.phi, remaining, 'inverse_remove')
  return math.add(positive, negative, 'sum')
}
