/**
 * Φ-SEA's elementwise feature maps, forward direction only (METHODS.md §1.8): the fit replaces H, H⁺, H⁻ by
 * φ(H), φ(H⁺), φ(H⁻). The inverses live in the graph compiler, which applies φ⁻¹ at runtime.
 *   squared-exponential (ℓ = 1)  exp(−x²/2)
 *   tanh                          tanh(x)
 *   elu (α = 1)                   x if x ≥ 0, eˣ − 1 otherwise
 */
import type { Op } from '../../../shared/edit.ts'

/** The feature maps a spectral op can carry. */
export type FeatureMap = Extract<Op, { kind: 'spectral' }>['phi']

function forward(phi: FeatureMap): (value: number) => number {
  switch (phi) {
    case 'identity':
      return (value) => value
    case 'squared-exponential':
      return (value) => Math.exp(-(value * value) / 2)
    case 'tanh':
      return Math.tanh
    case 'elu':
      return (value) => (value >= 0 ? value : Math.expm1(value))
  }
}

/** φ applied to every entry of `values` (a new array; identity returns the input itself). */
export function applyFeatureMap(phi: FeatureMap, values: Float32Array): Float32Array {
  if (phi === 'identity') return values
  const map = forward(phi)
  const result = new Float32Array(values.length)
  for (let index = 0; index < values.length; index++) result[index] = map(values[index] as number)
  return result
}
