/**
 * A plain float64 reference of HPR's runtime edit (METHODS.md §2.7, edit.ts `householder`), for tests of the fit
 * and of the compiled graph:
 *   s = θᵀa > 0 (probe-positive tokens are returned unchanged; θᵀa = 0 counts as negative, PyTorch's round(0.5) = 0)
 *   γ₁ = α·π·sigmoid(MLP(a)), MLP = Linear → GELU(erf) → … → Linear
 *   ȧ = H a = a − 2(θᵀa/θᵀθ)θ,  γ₂ = g(ȧ, a) = arccos(clamp(cos(ȧ, a), −1 + 1e-7, 1 − 1e-7))
 *   â = (sin γ₁/sin γ₂)·ȧ + (sin(γ₂ − γ₁)/sin γ₂)·a          (Eq. 12)
 *     = cos γ₁·a + sin γ₁·‖a‖·u,  u = normalize(ȧ − cos γ₂·a)  (the stable form)
 */
import type { Op } from '../../src/shared/edit.ts'

export type Vector = ArrayLike<number>

export function dot(a: Vector, b: Vector): number {
  let sum = 0
  for (let index = 0; index < a.length; index++) sum += (a[index] as number) * (b[index] as number)
  return sum
}

export function norm(a: Vector): number {
  return Math.sqrt(dot(a, a))
}

/** ȧ = H a = a − 2(θᵀa/θᵀθ)θ. */
export function reflect(a: Vector, probe: Vector): Float64Array {
  const factor = (2 * dot(probe, a)) / dot(probe, probe)
  return Float64Array.from(
    { length: a.length },
    (_, index) => (a[index] as number) - factor * (probe[index] as number),
  )
}

/** The Householder matrix H = I − 2θθᵀ/θᵀθ as rows (tests of its algebra only; the edit never builds it). */
export function householderMatrix(probe: Vector): Float64Array[] {
  const scale = 2 / dot(probe, probe)
  return Array.from({ length: probe.length }, (_, row) =>
    Float64Array.from(
      { length: probe.length },
      (_, column) => (row === column ? 1 : 0) - scale * (probe[row] as number) * (probe[column] as number),
    ),
  )
}

/** g(u, v): the clamped arccos of the cosine. */
export function clampedAngle(u: Vector, v: Vector): number {
  const cosine = dot(u, v) / (norm(u) * norm(v))
  return Math.acos(Math.min(1 - 1e-7, Math.max(-1 + 1e-7, cosine)))
}

/** The unclamped angle between u and v. */
export function angleBetween(u: Vector, v: Vector): number {
  return Math.acos(Math.min(1, Math.max(-1, dot(u, v) / (norm(u) * norm(v)))))
}

/** Eq. 12: â = (sin γ₁/sin γ₂)·ȧ + (sin(γ₂ − γ₁)/sin γ₂)·a. */
export function rotateEquation12(a: Vector, reflected: Vector, gamma1: number, gamma2: number): Float64Array {
  const toward = Math.sin(gamma1) / Math.sin(gamma2)
  const stay = Math.sin(gamma2 - gamma1) / Math.sin(gamma2)
  return Float64Array.from(
    { length: a.length },
    (_, index) => toward * (reflected[index] as number) + stay * (a[index] as number),
  )
}

/** The stable form: â = cos γ₁·a + sin γ₁·‖a‖·u, u = normalize(ȧ − cos γ₂·a). */
export function rotateStable(a: Vector, reflected: Vector, gamma1: number, gamma2: number): Float64Array {
  const cosine = Math.cos(gamma2)
  const direction = Float64Array.from(
    { length: a.length },
    (_, index) => (reflected[index] as number) - cosine * (a[index] as number),
  )
  const length = norm(direction)
  const scale = (Math.sin(gamma1) * norm(a)) / length
  return Float64Array.from(
    { length: a.length },
    (_, index) => Math.cos(gamma1) * (a[index] as number) + scale * (direction[index] as number),
  )
}

/** erf(x) in float64: (2/√π)·e^{−x²}·Σ 2ⁿx^{2n+1}/(2n+1)!!, positive terms only, |x| clamped to 6. */
export function erf(x: number): number {
  const clamped = Math.min(6, Math.max(-6, x))
  const square = clamped * clamped
  let term = clamped
  let sum = clamped
  for (let n = 1; n < 200 && Math.abs(term) > 1e-17 * Math.abs(sum); n++) {
    term *= (2 * square) / (2 * n + 1)
    sum += term
  }
  return (2 / Math.sqrt(Math.PI)) * Math.exp(-square) * sum
}

/** GELU, erf form. */
export function gelu(x: number): number {
  return 0.5 * x * (1 + erf(x / Math.SQRT2))
}

/** The angle network's pre-sigmoid output MLP(a). */
export function angleLogit(
  a: Vector,
  widths: readonly number[],
  weights: readonly Vector[],
  biases: readonly Vector[],
): number {
  let hidden: number[] = Array.from(a)
  for (let linear = 0; linear + 1 < widths.length; linear++) {
    const input = widths[linear] as number
    const output = widths[linear + 1] as number
    const weight = weights[linear] as Vector
    const bias = biases[linear] as Vector
    const next: number[] = []
    for (let row = 0; row < output; row++) {
      let sum = bias[row] as number
      for (let column = 0; column < input; column++) {
        sum += (weight[row * input + column] as number) * (hidden[column] as number)
      }
      next.push(linear + 2 < widths.length ? gelu(sum) : sum)
    }
    hidden = next
  }
  return hidden[0] as number
}

/** f_angle(a) = π·sigmoid(MLP(a)). */
export function predictedAngle(
  a: Vector,
  widths: readonly number[],
  weights: readonly Vector[],
  biases: readonly Vector[],
): number {
  return Math.PI / (1 + Math.exp(-angleLogit(a, widths, weights, biases)))
}

/** The edit of one activation by a `householder` op at strength α (float64 throughout). */
export function householderEdit(
  a: Vector,
  op: Extract<Op, { kind: 'householder' }>,
  strength: number,
): Float64Array {
  if (dot(op.probe, a) > 0) return Float64Array.from(a)
  const gamma1 = strength * predictedAngle(a, op.angleWidths, op.angleWeights, op.angleBiases)
  const reflected = reflect(a, op.probe)
  const gamma2 = clampedAngle(reflected, a)
  return rotateStable(a, reflected, gamma1, gamma2)
}
