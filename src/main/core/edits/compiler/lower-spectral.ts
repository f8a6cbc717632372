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
 * Projections are two thin MatMuls per factor (`[batch, seq, width] → [batch, seq, k] → [batch, seq, width]`); a
 * rank of 0 gives z⁺ = 0, resp. z⁻ = z. The feature maps' clamps keep SEA(h) finite for finite h; a non-finite
 * SEA(h) − h (overflow of ‖h‖² beyond float32) is replaced by 0 so strength 0 stays exact (0·NaN would be NaN).
 */

/** K `[rank, width]` row-major as its transpose `[width, rank]`. */
function transpose(rows: Float32Array, rank: number, width: number): Float32Array {
  const columns = new Float32Array(width * rank)
  for (let row = 0; row < rank; row++)
    for (let column = 0; column < width; column++)
      columns[column * rank + row] = rows[row * width + column] ?? 0
  return columns
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
  const z = op.phiMode === 'paper' ? applyFeatureMap(math, op.phi, input, 'phi') : input
  const kept =
    op.keepRank > 0
      ? project(math, z, op.keep, op.keepRank, 'keep')
      : math.tensor('keep_zero', [context.width], new Float32Array(context.width))
  const remaining =
    op.removeRank > 0 ? math.sub(z, project(math, z, op.remove, op.removeRank, 'remove'), 'removed') : z
  const positive = invertFeatureMap(math, op.phi, kept, 'inverse_keep')
  const negative = invertFeatureMap(math, op.phi, remaining, 'inverse_remove')
  const sum = math.add(positive, negative, 'sum')
  let merged = sum
  if (op.merge === 'average') merged = math.mul(sum, math.scalar(0.5), 'average')
  else if (op.merge === 'norm') {
    const sumNorm = math.norm(sum, 'sum_norm')
    const scale = math.div(math.norm(input, 'input_norm'), sumNorm, 'norm_ratio')
    const positiveNorm = math.op('Greater', [sumNorm, math.scalar(0)], 'sum_nonzero')
    merged = math.where(positiveNorm, math.mul(sum, scale, 'renormed'), input, 'norm')
  } else if (op.merge === 'feature-norm') {
    merged = featureNorm(math, context.gate, input, sum)
  }
  const change = math.finiteOrZero(math.sub(merged, input, 'change'), 'change_finite')
  return math.mul(context.gate, change, 'Mul')
}
