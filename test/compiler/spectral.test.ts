import { describe, expect, it } from 'vitest'
import type { Op } from '../../src/shared/edit.ts'
import { featureNormReference, spectralReference } from '../helpers/reference-spectral.ts'
import { runLowering } from './lowering-graph.ts'
import { orthonormalBasis, randomVector } from './support.ts'

/**
 * The `spectral` lowering (SEA, Φ-SEA) on its own graph against METHODS.md §1.11's hand case and the float64
 * reference of §1.5/§1.8 on random tokens, for every feature map, merge and phi mode.
 */

type Spectral = Extract<Op, { kind: 'spectral' }>

const phis: Spectral['phi'][] = ['identity', 'squared-exponential', 'tanh', 'elu']
/** The merges that act on each token alone. */
const merges: Spectral['merge'][] = ['norm', 'average', 'sum']

function spectral(overrides: Partial<Spectral> & { width: number; seed: number }): Spectral {
  const { width, seed, ...rest } = overrides
  const keepRank = rest.keepRank ?? 3
  const removeRank = rest.removeRank ?? 2
  return {
    kind: 'spectral',
    keep: orthonormalBasis(keepRank, width, seed),
    keepRank,
    remove: orthonormalBasis(removeRank, width, seed + 50),
    removeRank,
    merge: 'norm',
    phi: 'identity',
    phiMode: 'paper',
    ...rest,
  }
}

/**
 * Relative error bound per feature map. The inverses amplify float32 rounding of the projected features
 * (≈ 1e-7 absolute) by their slope: up to 1/(1 − y²) ≤ 5e3 (tanh) and 1/(1 + y) ≤ 1e4 (ELU) near the clamps;
 * −2 ln y's results (≈ x², up to 18.4) are large, so its relative error stays small on these tokens.
 */
function toleranceOf(phi: Spectral['phi']): number {
  return phi === 'identity' ? 2e-6 : phi === 'squared-exponential' ? 2e-5 : 5e-4
}

/** `tokens` random activations `[tokens, width]` with entries in [-2.5, 2.5). */
function activations(tokens: number, width: number, seed: number): Float32Array {
  return randomVector(tokens * width, seed).map((value) => 2.5 * value)
}

/** Largest |graph − reference| over all tokens, relative to max(1, |reference|) per element. */
function worstError(
  op: Spectral,
  h: Float32Array,
  gates: Float32Array,
  edited: Float32Array,
  width: number,
): number {
  let worst = 0
  for (let token = 0; token < gates.length; token++) {
    const input = h.subarray(token * width, (token + 1) * width)
    const sea = spectralReference(op, input)
    for (let i = 0; i < width; i++) {
      const expected = (input[i] ?? 0) + (gates[token] ?? 0) * ((sea[i] ?? 0) - (input[i] ?? 0))
      const error = Math.abs((edited[token * width + i] ?? 0) - expected) / Math.max(1, Math.abs(expected))
      worst = Math.max(worst, error)
    }
  }
  return worst
}

/** METHODS.md §1.11's hand case: keep (1, 1, 0)/√2, remove (1, −1, 0)/√2, linear SEA with `merge`. */
function handCase(merge: Spectral['merge']): Spectral {
  const half = Math.SQRT1_2
  return {
    kind: 'spectral',
    keep: Float32Array.of(half, half, 0),
    keepRank: 1,
    remove: Float32Array.of(half, -half, 0),
    removeRank: 1,
    merge,
    phi: 'identity',
    phiMode: 'paper',
  }
}

describe('spectral lowering', () => {
  it('reproduces the hand case of METHODS.md §1.11 (norm merge)', async () => {
    const op = handCase('norm')
    const edited = await runLowering(op, Float32Array.of(1, 0, 0, 1, 2, 3), Float32Array.of(1, 1), 3)
    const expected = [0.7071, 0.7071, 0, 2.1602, 2.1602, 2.1602]
    expected.forEach((value, index) => expect(edited[index]).toBeCloseTo(value, 4))
  })

  it('reproduces the code-faithful per-feature merge of METHODS.md §1.8 on the two-token block', async () => {
    const op = handCase('feature-norm')
    const edited = await runLowering(op, Float32Array.of(1, 0, 0, 1, 2, 3), Float32Array.of(1, 1), 3)
    // Feature rows (0.4472, 1.3416), (0.6325, 1.8974), (0, 3) across the two tokens.
    const expected = [0.4472, 0.6325, 0, 1.3416, 1.8974, 3]
    expected.forEach((value, index) => expect(edited[index]).toBeCloseTo(value, 4))
    // One token alone (a decode step): each feature becomes sign(y_i)·|x_i|; y = (1, 1, 0) keeps x_2 = 0.
    const single = await runLowering(op, Float32Array.of(-2, 0.5, 0), Float32Array.of(1), 3)
    // y = x + P⁺x − Q⁻x = (−2, 0.5, 0) + (−0.75, −0.75, 0) − (−1.25, 1.25, 0) = (−1.5, −1.5, 0)
    expect(Array.from(single)).toEqual([-2, -0.5, 0])
  })

  for (const phi of phis) {
    it(`${phi} feature map, feature-norm merge: matches the float64 reference over the active tokens`, async () => {
      const width = 24
      const tokens = 48
      const h = activations(tokens, width, 7)
      // Gate 0 on every fourth token: those take no part in the norms and stay bit-identical.
      const gates = Float32Array.from({ length: tokens }, (_, token) => [1, 0.5, 2, 0][token % 4] ?? 1)
      for (const phiMode of ['paper', 'code'] as const) {
        const op = spectral({ width, seed: 3, phi, merge: 'feature-norm', phiMode })
        const edited = await runLowering(op, h, gates, width)
        const expected = featureNormReference(
          op,
          Array.from({ length: tokens }, (_, token) => h.subarray(token * width, (token + 1) * width)),
          Array.from(gates),
        )
        let worst = 0
        expected.forEach((values, token) =>
          values.forEach((value, i) => {
            const error = Math.abs((edited[token * width + i] ?? 0) - value) / Math.max(1, Math.abs(value))
            worst = Math.max(worst, error)
          }),
        )
        expect(worst, phiMode).toBeLessThanOrEqual(toleranceOf(phi))
        for (let token = 3; token < tokens; token += 4) {
          const range = [token * width, (token + 1) * width] as const
          expect(Array.from(edited.subarray(...range)), `gate 0 token ${token}`).toEqual(
            Array.from(h.subarray(...range)),
          )
        }
      }
    })
  }

  for (const phi of phis) {
    for (const merge of merges) {
      it(`${phi} feature map, ${merge} merge: matches the float64 reference on random tokens`, async () => {
        const width = 24
        const tokens = 48
        const h = activations(tokens, width, 7)
        const gates = Float32Array.from({ length: tokens }, (_, token) => [1, 0.5, 2, 0][token % 4] ?? 1)
        for (const phiMode of ['paper', 'code'] as const) {
          const op = spectral({ width, seed: 3, phi, merge, phiMode })
          const edited = await runLowering(op, h, gates, width)
          const tolerance = toleranceOf(phi)
          expect(worstError(op, h, gates, edited, width), phiMode).toBeLessThanOrEqual(tolerance)
          for (let token = 3; token < tokens; token += 4) {
            const range = [token * width, (token + 1) * width] as const
            expect(Array.from(edited.subarray(...range)), `gate 0 token ${token}`).toEqual(
              Array.from(h.subarray(...range)),
            )
          }
        }
      })
    }
  }

  it('keepRank 0 and removeRank 0 contribute z⁺ = 0 and z⁻ = z', async () => {
    const width = 16
    const h = activations(10, width, 9)
    const gates = new Float32Array(10).fill(1)
    for (const phi of phis) {
      for (const ranks of [
        { keepRank: 0, removeRank: 2 },
        { keepRank: 3, removeRank: 0 },
        { keepRank: 0, removeRank: 0 },
      ]) {
        const op = spectral({ width, seed: 5, phi, merge: 'sum', ...ranks })
        const edited = await runLowering(op, h, gates, width)
        const tolerance = toleranceOf(phi)
        expect(
          worstError(op, h, gates, edited, width),
          `${phi} ${JSON.stringify(ranks)}`,
        ).toBeLessThanOrEqual(tolerance)
      }
    }
    // Linear SEA with nothing kept and nothing removed, summed, is the identity.
    const identity = await runLowering(
      spectral({ width, seed: 5, keepRank: 0, removeRank: 0, merge: 'sum' }),
      h,
      gates,
      width,
    )
    expect(Array.from(identity)).toEqual(Array.from(h))
  })

  it('strength α interpolates linearly between h and SEA(h)', async () => {
    const width = 20
    const tokens = 12
    const h = activations(tokens, width, 11)
    const op = spectral({ width, seed: 13, phi: 'tanh', merge: 'norm' })
    const full = await runLowering(op, h, new Float32Array(tokens).fill(1), width)
    const halfway = await runLowering(op, h, new Float32Array(tokens).fill(0.5), width)
    for (let index = 0; index < h.length; index++) {
      const expected = ((h[index] ?? 0) + (full[index] ?? 0)) / 2
      expect(Math.abs((halfway[index] ?? 0) - expected)).toBeLessThanOrEqual(
        1e-5 * Math.max(1, Math.abs(expected)),
      )
    }
  })

  it('stays finite for zero and huge tokens, and gate 0 leaves them bit-identical', async () => {
    const width = 8
    const h = new Float32Array(4 * width)
    h.fill(3e30, width, 2 * width) // ‖h‖² overflows float32
    h.fill(-1e-30, 2 * width, 3 * width) // squares underflow to 0
    h.set(activations(1, width, 17), 3 * width)
    for (const phi of phis) {
      for (const merge of [...merges, 'feature-norm'] as const) {
        const op = spectral({ width, seed: 19, phi, merge, keepRank: 2, removeRank: 2 })
        const atOne = await runLowering(op, h, new Float32Array(4).fill(1), width)
        expect(atOne.every(Number.isFinite), `${phi} ${merge}`).toBe(true)
        const atZero = await runLowering(op, h, new Float32Array(4), width)
        expect(Array.from(atZero), `${phi} ${merge} at gate 0`).toEqual(Array.from(h))
      }
    }
  })

  it('gives the same values at opset 18, where reductions take their axes as an input', async () => {
    const width = 12
    const h = activations(6, width, 23)
    const gates = Float32Array.of(1, 0.5, 0, 2, 1, 1)
    for (const phi of phis) {
      const op = spectral({ width, seed: 29, phi, merge: 'norm' })
      const atFourteen = await runLowering(op, h, gates, width, 14)
      const atEighteen = await runLowering(op, h, gates, width, 18)
      expect(Array.from(atEighteen), phi).toEqual(Array.from(atFourteen))
    }
  })
})
