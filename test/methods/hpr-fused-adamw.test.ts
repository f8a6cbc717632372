/**
 * The fused AdamW kernel (fused-adamw.ts) against PyTorch's AdamW written out in float64: decoupled weight decay,
 * bias corrections, several parameters whose lengths are not multiples of the kernel's four lanes, and a changing
 * learning rate.
 */
import { describe, expect, it } from 'vitest'
import { FusedAdamW } from '../../src/main/core/methods/hpr/fused-adamw.ts'
import type { AdamWConstants } from '../../src/main/core/methods/hpr/graph-pieces.ts'
import { createRandom } from '../../src/main/core/random-streams.ts'

const constants: AdamWConstants = { beta1: 0.9, beta2: 0.999, epsilon: 1e-8, weightDecay: 0.05 }

/** A parameter and its moments in float64. */
interface ReferenceState {
  values: Float64Array
  first: Float64Array
  second: Float64Array
}

/** torch.optim.AdamW's step on one parameter, in float64; `step` is 1-based. */
function referenceStep(state: ReferenceState, gradient: Float32Array, rate: number, step: number): void {
  const { beta1, beta2, epsilon, weightDecay } = constants
  for (let index = 0; index < state.values.length; index++) {
    const g = gradient[index] as number
    state.values[index] = (state.values[index] as number) * (1 - rate * weightDecay)
    state.first[index] = beta1 * (state.first[index] as number) + (1 - beta1) * g
    state.second[index] = beta2 * (state.second[index] as number) + (1 - beta2) * g * g
    const corrected = (state.first[index] as number) / (1 - beta1 ** step)
    const denominator = Math.sqrt((state.second[index] as number) / (1 - beta2 ** step)) + epsilon
    state.values[index] = (state.values[index] as number) - (rate * corrected) / denominator
  }
}

describe('fused AdamW', () => {
  it.each([
    ['the SIMD kernel', false],
    ['the JavaScript update', true],
  ])('takes the steps of PyTorch AdamW on parameters of any length: %s', (_, javascript) => {
    const random = createRandom(8)
    const lengths = { a: 7, b: 1, c: 64, d: 13 }
    const initial = new Map(
      Object.entries(lengths).map(([name, length]) => [
        name,
        { values: Float32Array.from({ length }, () => random.normal()), dims: [length] },
      ]),
    )
    const optimizer = new FusedAdamW(initial, constants, { javascript })
    expect(optimizer.simd).toBe(!javascript)
    const reference = new Map<string, ReferenceState>(
      [...initial].map(([name, parameter]) => [
        name,
        {
          values: Float64Array.from(parameter.values),
          first: new Float64Array(parameter.values.length),
          second: new Float64Array(parameter.values.length),
        },
      ]),
    )
    const rates = [0.05, 0.1, 0.02, 0.08, 0.03, 0.06]
    rates.forEach((rate, index) => {
      for (const [name, gradient] of optimizer.gradients) {
        gradient.values.set(Float32Array.from(gradient.values, () => random.normal() * (index + 1)))
        referenceStep(reference.get(name) as ReferenceState, gradient.values, rate, index + 1)
      }
      optimizer.step(rate)
    })
    let worst = 0
    let moved = 0
    for (const [name, parameter] of optimizer.parameters) {
      const expected = (reference.get(name) as ReferenceState).values
      const start = (initial.get(name) as { values: Float32Array }).values
      expect(parameter.values).toHaveLength(expected.length)
      expect(parameter.dims).toEqual([expected.length])
      parameter.values.forEach((value, index) => {
        worst = Math.max(worst, Math.abs(value - (expected[index] as number)))
        moved = Math.max(moved, Math.abs((expected[index] as number) - (start[index] as number)))
      })
    }
    // Six steps move the weights by about 0.3; float32 against float64 differs by rounding only.
    expect(moved).toBeGreaterThan(0.2)
    expect(worst).toBeLessThan(1e-6)
  })

  it('gives bit for bit the same weights with the SIMD kernel and the JavaScript update', () => {
    const random = createRandom(12)
    const initial = new Map([
      ['w', { values: Float32Array.from({ length: 37 }, () => random.normal()), dims: [37] }],
    ])
    const [simd, javascript] = [false, true].map(
      (forced) => new FusedAdamW(initial, constants, { javascript: forced }),
    )
    for (let step = 0; step < 5; step++) {
      const gradient = Float32Array.from({ length: 37 }, () => random.normal())
      for (const optimizer of [simd, javascript]) {
        optimizer?.gradients.get('w')?.values.set(gradient)
        optimizer?.step(0.05)
      }
    }
    // Float32 at every operation in both, each correctly rounded (a float64 result of float32 operands rounds to the
    // same float32): bit for bit the same.
    const expected = Array.from(simd?.parameters.get('w')?.values as Float32Array)
    expect(expected).toHaveLength(37)
    expect(Array.from(javascript?.parameters.get('w')?.values as Float32Array)).toEqual(expected)
  })

  it('leaves the caller’s arrays alone and keeps a zero gradient’s weight where decay puts it', () => {
    const values = new Float32Array([1, -2, 3])
    const optimizer = new FusedAdamW(new Map([['w', { values, dims: [3] }]]), constants)
    optimizer.gradients.get('w')?.values.set([0.5, 0, -0.25])
    optimizer.step(0.1)
    const stepped = optimizer.parameters.get('w')?.values as Float32Array
    expect([...values]).toEqual([1, -2, 3])
    // First step: decay by 1 − 0.1·0.05, then move by the rate against the gradient's sign (m̂/sqrt(v̂) = ±1).
    expect(stepped[0]).toBeCloseTo(1 * 0.995 - 0.1, 6)
    expect(stepped[1]).toBeCloseTo(-2 * 0.995, 6)
    expect(stepped[2]).toBeCloseTo(3 * 0.995 + 0.1, 6)
  })
})
