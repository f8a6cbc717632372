import type { Op } from '../../src/shared/edit.ts'

/**
 * HPR on one token, written directly from METHODS.md §2.7 and §2.9 in float64: the reference the `householder`
 * lowering must match. `householderEdit` uses the stable form with the documented fallbacks; `householderEq12` is
 * the paper's Eq. 12 (for cross-checking the two away from degenerate tokens).
 */

type Householder = Extract<Op, { kind: 'householder' }>

function dot(first: ArrayLike<number>, second: ArrayLike<number>): number {
  let total = 0
  for (let i = 0; i < first.length; i++) total += (first[i] ?? 0) * (second[i] ?? 0)
  return total
}

/** erf(x) to about 1e-13: Maclaurin series for |x| < 3, the continued fraction of erfc beyond. */
function erf(x: number): number {
  const magnitude = Math.abs(x)
  if (magnitude >= 3) {
    let fraction = magnitude
    for (let k = 80; k >= 1; k--) fraction = magnitude + k / 2 / fraction
    return Math.sign(x) * (1 - Math.exp(-magnitude * magnitude) / Math.sqrt(Math.PI) / fraction)
  }
  let term = x
  let total = x
  for (let n = 1; n < 200; n++) {
    term *= (-x * x) / n
    const next = term / (2 * n + 1)
    total += next
    if (Math.abs(next) < 1e-17) break
  }
  return (2 / Math.sqrt(Math.PI)) * total
}

/** The angle network's output MLP(a): Linear → GELU(erf) → … → Linear to a scalar. */
export function angleNetworkReference(op: Householder, a: Float32Array): number {
  let x: Float64Array = Float64Array.from(a)
  const layers = op.angleWidths.length - 1
  for (let layer = 0; layer < layers; layer++) {
    const inputs = op.angleWidths[layer] ?? 0
    const outputs = op.angleWidths[layer + 1] ?? 0
    const weight = op.angleWeights[layer] ?? new Float32Array()
    const bias = op.angleBiases[layer] ?? new Float32Array()
    const next = new Float64Array(outputs)
    for (let out = 0; out < outputs; out++) {
      next[out] = (bias[out] ?? 0) + dot(weight.subarray(out * inputs, (out + 1) * inputs), x)
      if (layer < layers - 1) next[out] = 0.5 * (next[out] ?? 0) * (1 + erf((next[out] ?? 0) / Math.SQRT2))
    }
    x = next
  }
  return x[0] ?? 0
}

/** γ₁ = gate·π·sigmoid(MLP(a)). */
export function rotationAngle(op: Householder, a: Float32Array, gate: number): number {
  return (gate * Math.PI) / (1 + Math.exp(-angleNetworkReference(op, a)))
}

/** The edited token: a itself when probe-positive or degenerate, else â (stable form, METHODS.md §2.7). */
export function householderEdit(op: Householder, a: Float32Array, gate: number): Float64Array {
  const theta = op.probe
  const p = dot(theta, a)
  if (p > 0) return Float64Array.from(a)
  const gamma1 = rotationAngle(op, a, gate)
  const probeSquared = dot(theta, theta)
  const reflected = Float64Array.from(a, (value, i) => value - ((2 * p) / probeSquared) * (theta[i] ?? 0))
  const aNorm = Math.sqrt(dot(a, a))
  if (aNorm === 0) return Float64Array.from(a)
  const cosine = Math.min(
    Math.max(dot(reflected, a) / (Math.sqrt(dot(reflected, reflected)) * aNorm), -1 + 1e-7),
    1 - 1e-7,
  )
  let direction = reflected.map((value, i) => value - cosine * (a[i] ?? 0))
  if (Math.sqrt(dot(direction, direction)) < 1e-6 * aNorm) {
    direction = Float64Array.from(theta, (value, i) => value - (p / (aNorm * aNorm)) * (a[i] ?? 0))
    if (Math.sqrt(dot(direction, direction)) < 1e-6 * Math.sqrt(probeSquared)) return Float64Array.from(a)
  }
  const directionNorm = Math.sqrt(dot(direction, direction))
  return Float64Array.from(
    a,
    (value, i) => Math.cos(gamma1) * value + Math.sin(gamma1) * aNorm * ((direction[i] ?? 0) / directionNorm),
  )
}

/** Eq. 12: â = (sin γ₁/sin γ₂)·ȧ + (sin(γ₂ − γ₁)/sin γ₂)·a, for a probe-negative token. */
export function householderEq12(op: Householder, a: Float32Array, gamma1: number): Float64Array {
  const theta = op.probe
  const p = dot(theta, a)
  const reflected = Float64Array.from(
    a,
    (value, i) => value - ((2 * p) / dot(theta, theta)) * (theta[i] ?? 0),
  )
  const cosine = dot(reflected, a) / (Math.sqrt(dot(reflected, reflected)) * Math.sqrt(dot(a, a)))
  const gamma2 = Math.acos(Math.min(Math.max(cosine, -1 + 1e-7), 1 - 1e-7))
  return reflected.map(
    (value, i) =>
      (Math.sin(gamma1) / Math.sin(gamma2)) * value +
      (Math.sin(gamma2 - gamma1) / Math.sin(gamma2)) * (a[i] ?? 0),
  )
}
