import { describe, expect, it } from 'vitest'
import type { Op } from '../../src/shared/edit.ts'
import { householderEdit, householderEq12, rotationAngle } from '../helpers/reference-householder.ts'
import { runLowering } from './lowering-graph.ts'
import { randomVector } from './support.ts'

/**
 * The `householder` lowering (HPR) on its own graph against METHODS.md §2.12: norms kept, angle(a, â) = γ₁,
 * â ∈ span{a, ȧ}, the d = 2 hand case, probe-positive and gate-0 tokens bit-identical, and the float64 reference
 * of the same formula (with Eq. 12 as a cross-check) on random activations.
 */

type Householder = Extract<Op, { kind: 'householder' }>

/** A network whose output is the constant `bias` (zero weights): γ₁ = gate·π·sigmoid(bias). */
function constantAngle(
  width: number,
  bias: number,
): Pick<Householder, 'angleWidths' | 'angleWeights' | 'angleBiases'> {
  return {
    angleWidths: [width, 1],
    angleWeights: [new Float32Array(width)],
    angleBiases: [Float32Array.of(bias)],
  }
}

/** A random network `[width, 16, 8, 1]` (two GELUs), weights scaled like a default PyTorch initialization. */
function randomNetwork(width: number, seed: number): Householder {
  const widths = [width, 16, 8, 1]
  return {
    kind: 'householder',
    probe: randomVector(width, seed),
    angleWidths: widths,
    angleWeights: widths.slice(1).map((outputs, layer) => {
      const inputs = widths[layer] ?? 1
      return randomVector(outputs * inputs, seed + 10 + layer).map((value) => value / Math.sqrt(inputs))
    }),
    angleBiases: widths.slice(1).map((outputs, layer) => randomVector(outputs, seed + 20 + layer)),
  }
}

function dot(first: ArrayLike<number>, second: ArrayLike<number>): number {
  let total = 0
  for (let i = 0; i < first.length; i++) total += (first[i] ?? 0) * (second[i] ?? 0)
  return total
}

function token(values: Float32Array, index: number, width: number): Float32Array {
  return values.subarray(index * width, (index + 1) * width)
}

describe('householder lowering', () => {
  it('reproduces the d = 2 hand case: θ = (1, 0), a = (−1, 1), γ₁ = π/4 → (0, √2)', async () => {
    // sigmoid(−ln 3) = 1/4, so γ₁ = π/4 at gate 1.
    const op: Householder = {
      kind: 'householder',
      probe: Float32Array.of(1, 0),
      ...constantAngle(2, -Math.log(3)),
    }
    const edited = await runLowering(op, Float32Array.of(-1, 1), Float32Array.of(1), 2)
    expect(edited[0]).toBeCloseTo(0, 6)
    expect(edited[1]).toBeCloseTo(Math.SQRT2, 6)
    // γ₁ = γ₂ = π/2 (sigmoid(0) = 1/2) lands on the reflection ȧ = (1, 1).
    const reflection = await runLowering(
      { ...op, ...constantAngle(2, 0) },
      Float32Array.of(-1, 1),
      Float32Array.of(1),
      2,
    )
    expect(reflection[0]).toBeCloseTo(1, 6)
    expect(reflection[1]).toBeCloseTo(1, 6)
  })

  it('matches the float64 reference on random activations; norms, angles and the plane are those of §2.12', async () => {
    const width = 32
    const tokens = 64
    const op = randomNetwork(width, 3)
    const a = randomVector(tokens * width, 5).map((value) => 3 * value)
    const gates = Float32Array.from({ length: tokens }, (_, index) => [1, 0.5, 1.7, 0][index % 4] ?? 1)
    const edited = await runLowering(op, a, gates, width)
    let negatives = 0
    for (let index = 0; index < tokens; index++) {
      const input = token(a, index, width)
      const output = token(edited, index, width)
      const gate = gates[index] ?? 0
      const p = dot(op.probe, input)
      if (p > 0 || gate === 0) {
        expect(Array.from(output), `token ${index} unchanged`).toEqual(Array.from(input))
        continue
      }
      negatives++
      const expected = householderEdit(op, input, gate)
      const scale = Math.sqrt(dot(input, input))
      for (let i = 0; i < width; i++)
        expect(Math.abs((output[i] ?? 0) - (expected[i] ?? 0)), `token ${index} [${i}]`).toBeLessThanOrEqual(
          2e-6 * scale,
        )
      // Eq. 12 (slerp toward the reflection) is the same rotation.
      const slerp = householderEq12(op, input, rotationAngle(op, input, gate))
      for (let i = 0; i < width; i++)
        expect(Math.abs((slerp[i] ?? 0) - (expected[i] ?? 0))).toBeLessThanOrEqual(1e-9 * scale)
      // ‖â‖ = ‖a‖ to 1e-5 relative; angle(a, â) = γ₁.
      const outputNorm = Math.sqrt(dot(output, output))
      expect(Math.abs(outputNorm - scale) / scale).toBeLessThanOrEqual(1e-5)
      const angle = Math.acos(Math.min(1, dot(output, input) / (outputNorm * scale)))
      expect(Math.abs(angle - rotationAngle(op, input, gate))).toBeLessThanOrEqual(1e-3)
      // â ∈ span{a, ȧ}: with e₁, e₂ an orthonormal basis of the plane, â − (âᵀe₁)e₁ − (âᵀe₂)e₂ = 0.
      const first = Float64Array.from(input, (value) => value / scale)
      const reflected = Float64Array.from(
        input,
        (value, i) => value - ((2 * p) / dot(op.probe, op.probe)) * (op.probe[i] ?? 0),
      )
      const along = dot(reflected, first)
      const rest = reflected.map((value, i) => value - along * (first[i] ?? 0))
      const second = rest.map((value) => value / Math.sqrt(dot(rest, rest)))
      const [onFirst, onSecond] = [dot(output, first), dot(output, second)]
      const residual = Float64Array.from(
        output,
        (value, i) => value - onFirst * (first[i] ?? 0) - onSecond * (second[i] ?? 0),
      )
      expect(Math.sqrt(dot(residual, residual))).toBeLessThanOrEqual(1e-5 * scale)
    }
    expect(negatives).toBeGreaterThan(10)
  })

  it('handles tokens on the hyperplane, parallel to the probe and zero (METHODS.md §2.9)', async () => {
    const width = 4
    const op: Householder = {
      kind: 'householder',
      probe: Float32Array.of(2, 0, 0, 0),
      ...constantAngle(width, 0),
    }
    // On the hyperplane (p = 0, negative): rotates toward θ by γ₁ = π/2 → ‖a‖·θ̂.
    // Anti-parallel (a ∥ −θ) and zero: left unchanged. Parallel (a ∥ θ) is positive.
    const a = Float32Array.of(0, 3, 4, 0, -5, 0, 0, 0, 0, 0, 0, 0, 7, 0, 0, 0)
    const edited = await runLowering(op, a, new Float32Array(4).fill(1), width)
    expect(Array.from(token(edited, 0, width)).map((value) => Number(value.toFixed(5)))).toEqual([5, 0, 0, 0])
    expect(Array.from(edited.subarray(width))).toEqual(Array.from(a.subarray(width)))
    const reference = householderEdit(op, token(a, 0, width), 1)
    expect(Array.from(reference).map((value) => Number(value.toFixed(5)))).toEqual([5, 0, 0, 0])
  })

  it('gate 0 and probe-positive tokens are bit-identical, also for huge activations', async () => {
    const width = 8
    const op = randomNetwork(width, 9)
    const a = Float32Array.from(randomVector(4 * width, 11))
    a.fill(-4e30, 2 * width, 3 * width) // ‖a‖² overflows float32
    const atZero = await runLowering(op, a, new Float32Array(4), width)
    expect(Array.from(atZero)).toEqual(Array.from(a))
    const atOne = await runLowering(op, a, new Float32Array(4).fill(1), width)
    expect(atOne.every(Number.isFinite)).toBe(true)
  })

  it('gives the same values at opset 18, where reductions take their axes as an input', async () => {
    const width = 16
    const op = randomNetwork(width, 13)
    const a = randomVector(8 * width, 15).map((value) => 3 * value)
    const gates = Float32Array.of(1, 0.5, 0, 2, 1, 1, 1, 1)
    const atFourteen = await runLowering(op, a, gates, width, 14)
    const atEighteen = await runLowering(op, a, gates, width, 18)
    expect(Array.from(atEighteen)).toEqual(Array.from(atFourteen))
    expect(atEighteen).not.toEqual(a)
  })
})
