import type { Op } from '../../src/shared/edit.ts'

/**
 * SEA / Φ-SEA on one token, written directly from METHODS.md §1.5 and §1.8 in float64: the reference the
 * `spectral` lowering must match. Returns SEA(h) (not the gated result).
 */

type Spectral = Extract<Op, { kind: 'spectral' }>

function featureMap(phi: Spectral['phi'], x: number): number {
  if (phi === 'squared-exponential') return Math.exp(-(x * x) / 2)
  if (phi === 'tanh') return Math.tanh(x)
  if (phi === 'elu') return x >= 0 ? x : Math.exp(x) - 1
  return x
}

function inverseFeatureMap(phi: Spectral['phi'], y: number): number {
  if (phi === 'squared-exponential') return -2 * Math.log(Math.max(y, 1e-4))
  if (phi === 'tanh') return Math.atanh(Math.min(Math.max(y, -1 + 1e-4), 1 - 1e-4))
  if (phi === 'elu') return y >= 0 ? y : Math.log(Math.max(y, -1 + 1e-4) + 1)
  return y
}

/** Σ_r (b_r·z) b_r over the rows b_r of `basis` `[rank, width]`. */
function projectOnto(basis: Float32Array, rank: number, z: Float64Array): Float64Array {
  const width = z.length
  const projected = new Float64Array(width)
  for (let row = 0; row < rank; row++) {
    let coordinate = 0
    for (let i = 0; i < width; i++) coordinate += (basis[row * width + i] ?? 0) * (z[i] ?? 0)
    for (let i = 0; i < width; i++)
      projected[i] = (projected[i] ?? 0) + coordinate * (basis[row * width + i] ?? 0)
  }
  return projected
}

function norm(values: Float64Array | Float32Array): number {
  let total = 0
  for (const value of values) total += value * value
  return Math.sqrt(total)
}

/** SEA(h) for one token h `[width]` (the per-token merges; feature-norm: `featureNormReference`). */
export function spectralReference(op: Spectral, h: Float32Array): Float64Array {
  if (op.merge === 'feature-norm') throw new RangeError('feature-norm spans tokens: use featureNormReference')
  const z = Float64Array.from(h, (value) => (op.phiMode === 'paper' ? featureMap(op.phi, value) : value))
  const kept = projectOnto(op.keep, op.keepRank, z)
  const removed = projectOnto(op.remove, op.removeRank, z)
  const sum = z.map(
    (value, i) =>
      inverseFeatureMap(op.phi, kept[i] ?? 0) + inverseFeatureMap(op.phi, value - (removed[i] ?? 0)),
  )
  if (op.merge === 'sum') return sum
  if (op.merge === 'average') return sum.map((value) => value / 2)
  const sumNorm = norm(sum)
  if (sumNorm === 0) return Float64Array.from(h)
  const scale = norm(h) / sumNorm
  return sum.map((value) => value * scale)
}

/**
 * The gated feature-norm edit of one row's tokens (METHODS.md §1.5, the released code's l2_norm): y_t = h⁺_t + h⁻_t,
 * each feature i scaled by ‖x_i‖/‖y_i‖ over the tokens whose gate is non-zero (h_i kept where ‖y_i‖ = 0); token t
 * becomes h_t + gate_t·(y'_t − h_t).
 */
export function featureNormReference(
  op: Spectral,
  tokens: readonly Float32Array[],
  gates: readonly number[],
): Float64Array[] {
  const sums = tokens.map((h) => spectralReference({ ...op, merge: 'sum' }, h))
  const width = tokens[0]?.length ?? 0
  const inputSquares = new Float64Array(width)
  const sumSquares = new Float64Array(width)
  tokens.forEach((h, token) => {
    if (gates[token] === 0) return
    for (let i = 0; i < width; i++) {
      inputSquares[i] = (inputSquares[i] ?? 0) + (h[i] ?? 0) ** 2
      sumSquares[i] = (sumSquares[i] ?? 0) + (sums[token]?.[i] ?? 0) ** 2
    }
  })
  return tokens.map((h, token) =>
    Float64Array.from(h, (value, i) => {
      const gate = gates[token] ?? 0
      if (gate === 0 || sumSquares[i] === 0) return value
      const merged = (sums[token]?.[i] ?? 0) * Math.sqrt((inputSquares[i] ?? 0) / (sumSquares[i] ?? 1))
      return value + gate * (merged - value)
    }),
  )
}
