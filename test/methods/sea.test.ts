import { describe, expect, it } from 'vitest'
import type { Intervention } from '../../src/shared/edit.ts'
import { fitEdit, methods } from '../../src/main/core/methods/index.ts'
import type { NeutralActivations } from '../../src/main/core/methods/method.ts'
import { parseOptions } from '../../src/main/core/methods/method.ts'
import { fitSpectral, type SpectralFitOptions } from '../../src/main/core/methods/spectral-fit.ts'
import { onnxProducts } from '../../src/main/core/linalg/onnx-products.ts'
import { TillerError } from '../../src/main/core/errors.ts'
import { layerSet, random } from './synthetic.ts'
import { jacobiEigen, multiply, projector, transpose } from './dense-reference.ts'

const linear: SpectralFitOptions = {
  site: 'resid_post',
  positiveVariance: 0.99,
  negativeVariance: 0.99,
  merge: 'norm',
  phi: 'identity',
  phiMode: 'paper',
  centering: false,
}

function neutralOf(layer: number, width: number, values: Float32Array): NeutralActivations {
  return { site: 'resid_post', layers: [layer], width, rows: values.length / width, values: [values] }
}

function spectralOp(intervention: Intervention | undefined) {
  if (intervention?.op.kind !== 'spectral') throw new Error('expected a spectral op')
  return intervention.op
}

function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tolerance: number): void {
  expect(actual.length).toBe(expected.length)
  for (let index = 0; index < expected.length; index++) {
    expect(Math.abs((actual[index] as number) - (expected[index] as number))).toBeLessThanOrEqual(tolerance)
  }
}

/** The METHODS.md §1.11 hand case: d = 3, N = 2, neutral e₁, e₂; positives e₁, e₁; negatives e₃, −e₃. */
function handCase() {
  const activations = layerSet({
    site: 'resid_post',
    selector: 'last',
    layer: 0,
    width: 3,
    positive: Float32Array.of(1, 0, 0, 1, 0, 0),
    negative: Float32Array.of(0, 0, 1, 0, 0, -1),
  })
  const neutral = neutralOf(0, 3, Float32Array.of(1, 0, 0, 0, 1, 0))
  return { activations, neutral }
}

/** Random rows `[rows, width]` lying in a `rank`-dimensional subspace plus a little noise. */
function lowRank(rows: number, width: number, rank: number, seed: number, noise = 0): Float32Array {
  const draw = random(seed)
  const basis = Array.from({ length: rank }, () => Array.from({ length: width }, () => draw.gaussian()))
  const values = new Float32Array(rows * width)
  for (let row = 0; row < rows; row++) {
    const weights = basis.map((_, index) => draw.gaussian() * (rank - index))
    for (let column = 0; column < width; column++) {
      let value = noise * draw.gaussian()
      basis.forEach((vector, index) => (value += (weights[index] as number) * (vector[column] as number)))
      values[row * width + column] = value
    }
  }
  return values
}

describe('SEA fit: METHODS.md §1.11', () => {
  it('gives the hand case projectors P⁺ and P⁻', async () => {
    const { activations, neutral } = handCase()
    const fit = await fitSpectral('sea', activations, neutral, linear)
    const op = spectralOp(fit.interventions[0])
    expect([op.keepRank, op.removeRank]).toEqual([1, 1])
    const keep = projector(op.keep, op.keepRank, 3)
    expectClose(keep, [0.5, 0.5, 0, 0.5, 0.5, 0, 0, 0, 0], 1e-7)
    const removeProjector = projector(op.remove, op.removeRank, 3)
    const negativeProjector = removeProjector.map((value, index) => (index % 4 === 0 ? 1 : 0) - value)
    expectClose(negativeProjector, [0.5, 0.5, 0, 0.5, 0.5, 0, 0, 0, 1], 1e-7)
    expect(fit.diagnostics?.keepRank).toEqual([{ layer: 0, value: 1 }])
    expect(fit.notes[0]).toMatch(/keep k⁺ = 1 \(100\.00 %/)
    // Ω⁺ has one singular value 0.7071: the signature sums those of [mean⁺, mean⁻] = [e₁, 0].
    expect(fit.diagnostics?.signature?.[0]?.value).toBeCloseTo(1, 12)
  })

  it('returns orthonormal rows, so P⁺ is an idempotent symmetric projector of trace k⁺', async () => {
    const width = 12
    const rows = 9
    const activations = layerSet({
      site: 'resid_post',
      selector: 'last',
      layer: 2,
      width,
      positive: lowRank(rows, width, 5, 1, 0.01),
      negative: lowRank(rows, width, 5, 2, 0.01),
    })
    const neutral = neutralOf(2, width, lowRank(rows, width, 6, 3, 0.01))
    const fit = await fitSpectral('sea', activations, neutral, linear)
    const op = spectralOp(fit.interventions[0])
    for (const [basis, rank] of [
      [op.keep, op.keepRank],
      [op.remove, op.removeRank],
    ] as const) {
      expect(rank).toBeGreaterThan(0)
      const matrix = projector(basis, rank, width)
      expectClose(multiply(matrix, matrix, width), matrix, 1e-6)
      expectClose(transpose(matrix, width), matrix, 1e-12)
      let trace = 0
      for (let index = 0; index < width; index++) trace += matrix[index * width + index] as number
      expect(trace).toBeCloseTo(rank, 5)
    }
  })

  it('with positives equal to negatives and K⁺ = K⁻ gives P⁺ + P⁻ = I, the identity edit', async () => {
    const width = 10
    const rows = 8
    const side = lowRank(rows, width, 4, 5, 0.1)
    const activations = layerSet({
      site: 'resid_post',
      selector: 'last',
      layer: 0,
      width,
      positive: side,
      negative: Float32Array.from(side),
    })
    const neutral = neutralOf(0, width, lowRank(rows, width, 7, 6, 0.1))
    const op = spectralOp((await fitSpectral('sea', activations, neutral, linear)).interventions[0])
    expect(op.keepRank).toBe(op.removeRank)
    const sum = projector(op.keep, op.keepRank, width).map(
      (value, index) =>
        value +
        (index % (width + 1) === 0 ? 1 : 0) -
        (projector(op.remove, op.removeRank, width)[index] as number),
    )
    const identity = Array.from({ length: width * width }, (_, index) => (index % (width + 1) === 0 ? 1 : 0))
    expectClose(sum, identity, 1e-12)
  })

  it('is invariant to flipping the sign of any activation row pair (projectors, not vectors, matter)', async () => {
    const { activations, neutral } = handCase()
    const flipped = layerSet({
      site: 'resid_post',
      selector: 'last',
      layer: 0,
      width: 3,
      positive: Float32Array.of(1, 0, 0, 1, 0, 0),
      negative: Float32Array.of(0, 0, -1, 0, 0, 1),
    })
    const first = spectralOp((await fitSpectral('sea', activations, neutral, linear)).interventions[0])
    const second = spectralOp((await fitSpectral('sea', flipped, neutral, linear)).interventions[0])
    expectClose(projector(second.remove, 1, 3), projector(first.remove, 1, 3), 1e-12)
    // A sign-flipped basis row gives the same projector.
    const negated = first.keep.map((value) => -value)
    expectClose(projector(negated, 1, 3), projector(first.keep, 1, 3), 0)
  })

  it('matches a dense float64 reference SVD of Ω± on a random low-rank case', async () => {
    const width = 8
    const rows = 6
    const neutralValues = lowRank(rows, width, 4, 11, 0.02)
    const positive = lowRank(rows, width, 3, 12, 0.02)
    const negative = lowRank(rows, width, 3, 13, 0.02)
    const activations = layerSet({
      site: 'resid_post',
      selector: 'last',
      layer: 1,
      width,
      positive,
      negative,
    })
    const options = { ...linear, positiveVariance: 0.9, negativeVariance: 0.95 }
    const op = spectralOp(
      (await fitSpectral('sea', activations, neutralOf(1, width, neutralValues), options)).interventions[0],
    )
    for (const [side, threshold, basis, rank] of [
      [positive, 0.9, op.keep, op.keepRank],
      [negative, 0.95, op.remove, op.removeRank],
    ] as const) {
      // Ω = H H±ᵀ / N with columns as samples; Ω Ωᵀ = U Σ² Uᵀ.
      const omega = new Float64Array(width * width)
      for (let row = 0; row < rows; row++) {
        for (let a = 0; a < width; a++) {
          for (let b = 0; b < width; b++) {
            omega[a * width + b] =
              (omega[a * width + b] as number) +
              ((neutralValues[row * width + a] as number) * (side[row * width + b] as number)) / rows
          }
        }
      }
      const { values, vectors } = jacobiEigen(multiply(omega, transpose(omega, width), width), width)
      const total = values.reduce((sum, value) => sum + Math.max(0, value), 0)
      let count = 0
      for (let cumulative = 0; cumulative < threshold * total; count++) cumulative += values[count] as number
      expect(rank).toBe(count)
      const reference = new Float64Array(count * width)
      for (let index = 0; index < count; index++) {
        for (let column = 0; column < width; column++) {
          reference[index * width + column] = vectors[column * width + index] as number
        }
      }
      expectClose(projector(basis, rank, width), projector(reference, count, width), 1e-5)
    }
  })

  it('gives the same subspaces through the ONNX Runtime products as in float64 JavaScript', async () => {
    const width = 16
    const rows = 10
    const activations = layerSet({
      site: 'resid_post',
      selector: 'last',
      layer: 0,
      width,
      positive: lowRank(rows, width, 4, 21, 0.05),
      negative: lowRank(rows, width, 4, 22, 0.05),
    })
    const neutral = neutralOf(0, width, lowRank(rows, width, 6, 23, 0.05))
    const products = onnxProducts(1)
    try {
      const viaOnnx = spectralOp(
        (await fitSpectral('sea', activations, neutral, linear, { products })).interventions[0],
      )
      const viaJavascript = spectralOp(
        (await fitSpectral('sea', activations, neutral, linear)).interventions[0],
      )
      expect(viaOnnx.keepRank).toBe(viaJavascript.keepRank)
      expect(viaOnnx.removeRank).toBe(viaJavascript.removeRank)
      expectClose(
        projector(viaOnnx.keep, viaOnnx.keepRank, width),
        projector(viaJavascript.keep, viaJavascript.keepRank, width),
        1e-4,
      )
      expectClose(
        projector(viaOnnx.remove, viaOnnx.removeRank, width),
        projector(viaJavascript.remove, viaJavascript.removeRank, width),
        1e-4,
      )
    } finally {
      await products.release()
    }
  })

  it('keeps a degenerate cluster at the cut-off whole', async () => {
    // Ω⁺ = diag(1, 1, 1, 0)/N-ish: three equal singular values; K = 0.5 is reached after one, the cluster adds two.
    const width = 4
    const identityRows = Float32Array.of(1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0)
    const activations = layerSet({
      site: 'resid_post',
      selector: 'last',
      layer: 0,
      width,
      positive: identityRows,
      negative: identityRows,
    })
    const fit = await fitSpectral('sea', activations, neutralOf(0, width, identityRows), {
      ...linear,
      positiveVariance: 0.5,
    })
    expect(spectralOp(fit.interventions[0]).keepRank).toBe(3)
  })
})

describe('Φ-SEA fit', () => {
  it('fits in feature space: φ(H), φ(H±) give the projectors linear SEA gives on mapped activations', async () => {
    const width = 6
    const rows = 5
    const raw = {
      neutral: lowRank(rows, width, 3, 31, 0.1),
      positive: lowRank(rows, width, 3, 32, 0.1),
      negative: lowRank(rows, width, 3, 33, 0.1),
    }
    const mapped = (values: Float32Array) => values.map((value) => Math.tanh(value))
    const options = { ...linear, positiveVariance: 0.9999, negativeVariance: 0.9999 }
    const phiFit = await fitSpectral(
      'phi-sea',
      layerSet({
        site: 'resid_post',
        selector: 'last',
        layer: 0,
        width,
        positive: raw.positive,
        negative: raw.negative,
      }),
      neutralOf(0, width, raw.neutral),
      { ...options, phi: 'tanh' },
    )
    const linearFit = await fitSpectral(
      'sea',
      layerSet({
        site: 'resid_post',
        selector: 'last',
        layer: 0,
        width,
        positive: mapped(raw.positive),
        negative: mapped(raw.negative),
      }),
      neutralOf(0, width, mapped(raw.neutral)),
      options,
    )
    const phi = spectralOp(phiFit.interventions[0])
    const reference = spectralOp(linearFit.interventions[0])
    expect(phi.phi).toBe('tanh')
    expect(phi.keepRank).toBe(reference.keepRank)
    expectClose(
      projector(phi.keep, phi.keepRank, width),
      projector(reference.keep, reference.keepRank, width),
      1e-6,
    )
    expectClose(
      projector(phi.remove, phi.removeRank, width),
      projector(reference.remove, reference.removeRank, width),
      1e-6,
    )
  })

  it('defaults to the released fairness settings and the last 2 blocks', () => {
    const options = parseOptions(methods['phi-sea'], {})
    expect(options).toMatchObject({ phi: 'squared-exponential', positiveVariance: 0.9999, phiMode: 'paper' })
    expect(methods['phi-sea'].capture(options, 6).layers).toEqual([4, 5])
    expect(methods.sea.capture(parseOptions(methods.sea, {}), 32).layers).toEqual(
      Array.from({ length: 21 }, (_, index) => 11 + index),
    )
    expect(methods.sea.neutral?.(parseOptions(methods.sea, {}), 6)).toEqual({
      site: 'resid_post',
      layers: [2, 3, 4, 5],
      maxNewTokens: 64,
    })
  })
})

describe('SEA bad input', () => {
  it('names what to change', async () => {
    const { activations, neutral } = handCase()
    const one = layerSet({
      site: 'resid_post',
      selector: 'last',
      layer: 0,
      width: 3,
      positive: Float32Array.of(1, 0, 0),
      negative: Float32Array.of(0, 0, 1),
    })
    await expect(fitSpectral('sea', one, neutralOf(0, 3, Float32Array.of(1, 0, 0)), linear)).rejects.toThrow(
      /at least 2 pairs to estimate a cross-covariance; got 1/,
    )
    const zeros = layerSet({
      site: 'resid_post',
      selector: 'last',
      layer: 0,
      width: 3,
      positive: new Float32Array(6),
      negative: Float32Array.of(0, 0, 1, 0, 0, 1),
    })
    await expect(fitSpectral('sea', zeros, neutral, linear)).rejects.toThrow(
      /positive activations do not co-vary/,
    )
    await expect(
      fitSpectral('sea', activations, neutralOf(0, 3, new Float32Array(6)), linear),
    ).rejects.toThrow(/neutral activations at layer 0 are all zero/)
    const equal = layerSet({
      site: 'resid_post',
      selector: 'last',
      layer: 0,
      width: 3,
      positive: Float32Array.of(1, 2, 3, 1, 2, 3),
      negative: Float32Array.of(0, 0, 1, 0, 0, -1),
    })
    await expect(fitSpectral('sea', equal, neutral, { ...linear, centering: true })).rejects.toThrow(
      /turn centring off/,
    )
    const broken = Float32Array.of(1, 0, 0, Number.NaN, 0, 0)
    const withNaN = layerSet({
      site: 'resid_post',
      selector: 'last',
      layer: 0,
      width: 3,
      positive: broken,
      negative: Float32Array.of(0, 0, 1, 0, 0, -1),
    })
    await expect(fitSpectral('sea', withNaN, neutral, linear)).rejects.toThrow(
      /positive activations at layer 0, row 1 \(pair-1\) contain NaN/,
    )
    await expect(
      fitSpectral('sea', activations, neutralOf(0, 3, Float32Array.of(1, 0, 0)), linear),
    ).rejects.toThrow(/neutral activations are \[1, 3\] but the pairs give \[2, 3\]/)
    await expect(fitSpectral('sea', activations, undefined, linear)).rejects.toBeInstanceOf(TillerError)
    expect(() => parseOptions(methods.sea, { positiveVariance: 1 })).toThrow(/option "positiveVariance"/)
    expect(() => parseOptions(methods.sea, { negativeVariance: 0 })).toThrow(/option "negativeVariance"/)
  })

  it('fits through the registry with neutral activations from the context', async () => {
    const { activations, neutral } = handCase()
    const { edit } = await fitEdit(methods.sea, activations, { layers: [0] }, {}, { neutral })
    expect(edit.method).toBe('sea')
    expect(edit.interventions).toHaveLength(1)
    expect(edit.interventions[0]?.positions).toEqual({ kind: 'all' })
  })
})
