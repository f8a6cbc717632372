/**
 * METHODS.md §2.12: the properties of HPR's runtime formula, checked on the float64 reference in
 * test/helpers/householder-reference.ts (which the compiled graph is compared against).
 */
import { describe, expect, it } from 'vitest'
import { createRandom } from '../../src/main/core/random-streams.ts'
import {
  angleBetween,
  clampedAngle,
  dot,
  erf,
  householderEdit,
  householderMatrix,
  norm,
  reflect,
  rotateEquation12,
  rotateStable,
} from '../helpers/householder-reference.ts'

const random = createRandom(7)

function randomVector(width: number): Float64Array {
  return Float64Array.from({ length: width }, () => random.normal())
}

/** a, θ with θᵀa < 0 (probe-negative), their reflection, γ₂ and a random γ₁ in (0, π). */
function randomCase(width: number) {
  const probe = randomVector(width)
  let a = randomVector(width)
  if (dot(probe, a) > 0) a = a.map((value) => -value)
  const reflected = reflect(a, probe)
  return { probe, a, reflected, gamma2: clampedAngle(reflected, a), gamma1: random.float() * Math.PI }
}

describe('HPR runtime formula (reference)', () => {
  it('keeps the norm and rotates by exactly γ₁ (1, 2)', () => {
    for (let trial = 0; trial < 50; trial++) {
      const { a, reflected, gamma1, gamma2 } = randomCase(64)
      const edited = rotateStable(a, reflected, gamma1, gamma2)
      expect(Math.abs(norm(edited) - norm(a)) / norm(a)).toBeLessThan(1e-12)
      expect(angleBetween(a, edited)).toBeCloseTo(gamma1, 6)
    }
  })

  it('stays in span{a, ȧ} (3)', () => {
    const { a, reflected, gamma1, gamma2 } = randomCase(32)
    const edited = rotateStable(a, reflected, gamma1, gamma2)
    // Least squares of edited on [a, ȧ] via the 2×2 normal equations; the residual must vanish.
    const [aa, ar, rr] = [dot(a, a), dot(a, reflected), dot(reflected, reflected)]
    const [ea, er] = [dot(edited, a), dot(edited, reflected)]
    const determinant = aa * rr - ar * ar
    const x = (ea * rr - er * ar) / determinant
    const y = (er * aa - ea * ar) / determinant
    const residual = edited.map(
      (value, index) => value - x * (a[index] as number) - y * (reflected[index] as number),
    )
    expect(norm(residual) / norm(edited)).toBeLessThan(1e-10)
  })

  it('has a symmetric, involutive H with Hθ = −θ and Hv = v for v ⟂ θ (4)', () => {
    const probe = randomVector(12)
    const matrix = householderMatrix(probe)
    for (let row = 0; row < 12; row++) {
      for (let column = 0; column < 12; column++) {
        expect(matrix[row]?.[column]).toBeCloseTo(matrix[column]?.[row] as number, 14)
        const square = dot(
          matrix[row] as Float64Array,
          Float64Array.from(matrix, (line) => line[column] as number),
        )
        expect(square).toBeCloseTo(row === column ? 1 : 0, 12)
      }
    }
    const flipped = reflect(probe, probe)
    flipped.forEach((value, index) => expect(value).toBeCloseTo(-(probe[index] as number), 12))
    const v = randomVector(12)
    const along = dot(v, probe) / dot(probe, probe)
    const orthogonal = v.map((value, index) => value - along * (probe[index] as number))
    reflect(orthogonal, probe).forEach((value, index) =>
      expect(value).toBeCloseTo(orthogonal[index] as number, 12),
    )
  })

  it('gives a for γ₁ = 0 and ȧ for γ₁ = γ₂ (5)', () => {
    const { a, reflected, gamma2 } = randomCase(16)
    rotateStable(a, reflected, 0, gamma2).forEach((value, index) =>
      expect(value).toBeCloseTo(a[index] as number, 12),
    )
    rotateStable(a, reflected, gamma2, gamma2).forEach((value, index) =>
      expect(value).toBeCloseTo(reflected[index] as number, 10),
    )
  })

  it('reproduces the d = 2 hand case', () => {
    const probe = [1, 0]
    const a = [-1, 1]
    expect(dot(probe, a)).toBe(-1)
    expect(1 / (1 + Math.exp(1))).toBeCloseTo(0.269, 3)
    const reflected = reflect(a, probe)
    expect(Array.from(reflected)).toEqual([1, 1])
    const gamma2 = clampedAngle(reflected, a)
    expect(gamma2).toBeCloseTo(Math.PI / 2, 12)
    for (const edited of [
      rotateEquation12(a, reflected, Math.PI / 4, gamma2),
      rotateStable(a, reflected, Math.PI / 4, gamma2),
    ]) {
      expect(edited[0]).toBeCloseTo(0, 12)
      expect(edited[1]).toBeCloseTo(Math.SQRT2, 12)
      expect(angleBetween(a, edited)).toBeCloseTo(Math.PI / 4, 12)
    }
  })

  it('agrees between Eq. 12 and the stable form to 1e-12 in float64 (6)', () => {
    for (let trial = 0; trial < 50; trial++) {
      const { a, reflected, gamma1, gamma2 } = randomCase(64)
      const equation = rotateEquation12(a, reflected, gamma1, gamma2)
      const stable = rotateStable(a, reflected, gamma1, gamma2)
      const difference = norm(equation.map((value, index) => value - (stable[index] as number)))
      expect(difference / norm(a)).toBeLessThan(1e-12)
    }
  })

  it('leaves probe-positive tokens bit-identical and uses the angle network for negative ones', () => {
    const widths = [4, 2, 1]
    const op = {
      kind: 'householder' as const,
      probe: new Float32Array([1, 0, 0, 0]),
      angleWidths: widths,
      angleWeights: [
        new Float32Array([0.5, -0.2, 0.1, 0.3, -0.4, 0.2, 0.6, -0.1]),
        new Float32Array([0.7, -0.3]),
      ],
      angleBiases: [new Float32Array([0.1, -0.1]), new Float32Array([0.2])],
    }
    const positive = [0.5, 1, -2, 3]
    expect(Array.from(householderEdit(positive, op, 1))).toEqual(positive)
    const negative = [-0.5, 1, -2, 3]
    const edited = householderEdit(negative, op, 1)
    expect(norm(edited)).toBeCloseTo(norm(negative), 12)
    expect(angleBetween(negative, edited)).toBeGreaterThan(0.1)
    expect(Array.from(householderEdit(negative, op, 0))).toEqual(negative)
  })

  it('computes erf to double precision (the reference GELU)', () => {
    // erf(0.5), erf(1), erf(2), erf(3) from tables.
    expect(erf(0.5)).toBeCloseTo(0.5204998778130465, 15)
    expect(erf(1)).toBeCloseTo(0.8427007929497149, 15)
    expect(erf(2)).toBeCloseTo(0.9953222650189527, 15)
    expect(erf(-3)).toBeCloseTo(-0.9999779095030014, 15)
  })
})
