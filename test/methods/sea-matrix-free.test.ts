import { describe, expect, it } from 'vitest'
import type { Intervention } from '../../src/shared/edit.ts'
import { javascriptProducts } from '../../src/main/core/linalg/matrix-products.ts'
import { onnxProducts } from '../../src/main/core/linalg/onnx-products.ts'
import { lockstepReflect, onnxRowProducts } from '../../src/main/core/linalg/row-products.ts'
import {
  gaussianProbes,
  sketchNeutral,
  sketchedOperators,
} from '../../src/main/core/linalg/sketched-operators.ts'
import type { NeutralActivations } from '../../src/main/core/methods/method.ts'
import { fitSpectral, type SpectralFitOptions } from '../../src/main/core/methods/spectral-fit.ts'
import { projector } from './dense-reference.ts'
import { layerSet, random } from './synthetic.ts'

const linear: SpectralFitOptions = {
  site: 'resid_post',
  positiveVariance: 0.99,
  negativeVariance: 0.99,
  merge: 'norm',
  phi: 'identity',
  phiMode: 'paper',
  centering: false,
}

function neutralOf(width: number, values: Float32Array): NeutralActivations {
  return { site: 'resid_post', layers: [0], width, rows: values.length / width, values: [values] }
}

function spectralOp(intervention: Intervention | undefined) {
  if (intervention?.op.kind !== 'spectral') throw new Error('expected a spectral op')
  return intervention.op
}

function largestDifference(first: ArrayLike<number>, second: ArrayLike<number>): number {
  let largest = 0
  for (let index = 0; index < first.length; index++) {
    largest = Math.max(largest, Math.abs((first[index] as number) - (second[index] as number)))
  }
  return largest
}

/** Rows sharing an offset and a `rank`-dimensional structure with decaying scales, plus noise. */
function structuredRows(
  rows: number,
  width: number,
  rank: number,
  seed: number,
  noise: number,
): Float32Array {
  const shared = random(1)
  const offset = Array.from({ length: width }, () => shared.gaussian())
  const basis = Array.from({ length: rank }, () => Array.from({ length: width }, () => shared.gaussian()))
  const draw = random(seed)
  const values = new Float32Array(rows * width)
  for (let row = 0; row < rows; row++) {
    const weights = basis.map((_, index) => draw.gaussian() * 3 * Math.exp(-index / 3))
    for (let column = 0; column < width; column++) {
      let value = (offset[column] as number) + noise * draw.gaussian()
      basis.forEach((vector, index) => (value += (weights[index] as number) * (vector[column] as number)))
      values[row * width + column] = value
    }
  }
  return values
}

function problem(rows: number, width: number, make: (seed: number) => Float32Array) {
  const activations = layerSet({
    site: 'resid_post',
    selector: 'last',
    layer: 0,
    width,
    positive: make(11),
    negative: make(12),
  })
  return { activations, neutral: neutralOf(width, make(13)) }
}

async function compare(
  rows: number,
  width: number,
  make: (seed: number) => Float32Array,
  options: SpectralFitOptions,
  maxSteps?: number,
) {
  const { activations, neutral } = problem(rows, width, make)
  const exact = await fitSpectral('sea', activations, neutral, options, {
    strategy: 'grams',
    products: javascriptProducts,
  })
  const sketched = await fitSpectral('sea', activations, neutral, options, {
    strategy: 'matrix-free',
    maxSteps,
  })
  return {
    exact,
    sketched,
    exactOp: spectralOp(exact.interventions[0]),
    op: spectralOp(sketched.interventions[0]),
  }
}

describe('SEA fit without Grams (matrix-free Lanczos, total with a margin)', () => {
  it('reproduces the METHODS.md §1.11 hand case', async () => {
    const activations = layerSet({
      site: 'resid_post',
      selector: 'last',
      layer: 0,
      width: 3,
      positive: Float32Array.of(1, 0, 0, 1, 0, 0),
      negative: Float32Array.of(0, 0, 1, 0, 0, -1),
    })
    const neutral = neutralOf(3, Float32Array.of(1, 0, 0, 0, 1, 0))
    const op = spectralOp(
      (await fitSpectral('sea', activations, neutral, linear, { strategy: 'matrix-free' })).interventions[0],
    )
    expect([op.keepRank, op.removeRank]).toEqual([1, 1])
    expect(largestDifference(projector(op.keep, 1, 3), [0.5, 0.5, 0, 0.5, 0.5, 0, 0, 0, 0])).toBeLessThan(
      1e-6,
    )
    expect(largestDifference(projector(op.remove, 1, 3), [0.5, -0.5, 0, -0.5, 0.5, 0, 0, 0, 0])).toBeLessThan(
      1e-6,
    )
  })

  it('keeps the ranks and subspaces of the exact float64 Gram fit on structured activations', async () => {
    const rows = 80
    const width = 120
    const { exactOp, op, exact, sketched } = await compare(
      rows,
      width,
      (seed) => structuredRows(rows, width, 8, seed, 0.3),
      linear,
    )
    expect(op.keepRank).toBe(exactOp.keepRank)
    expect(op.removeRank).toBe(exactOp.removeRank)
    expect(
      largestDifference(
        projector(op.keep, op.keepRank, width),
        projector(exactOp.keep, exactOp.keepRank, width),
      ),
    ).toBeLessThan(1e-4)
    expect(
      largestDifference(
        projector(op.remove, op.removeRank, width),
        projector(exactOp.remove, exactOp.removeRank, width),
      ),
    ).toBeLessThan(1e-4)
    const share = (fit: typeof exact) => fit.diagnostics?.keepExplained?.[0]?.value as number
    expect(Math.abs(share(sketched) - share(exact))).toBeLessThan(1e-3)
  })

  it('settles a cut-off deep in a flat spectrum (Gaussian rows, K = 0.9)', async () => {
    const rows = 40
    const width = 64
    const options = { ...linear, positiveVariance: 0.9, negativeVariance: 0.9 }
    const gaussian = (seed: number) => {
      const draw = random(seed)
      return Float32Array.from({ length: rows * width }, () => draw.gaussian())
    }
    const { exactOp, op } = await compare(rows, width, gaussian, options, rows)
    expect(exactOp.keepRank).toBeGreaterThan(10)
    expect(op.keepRank).toBe(exactOp.keepRank)
    expect(op.removeRank).toBe(exactOp.removeRank)
    expect(
      largestDifference(
        projector(op.keep, op.keepRank, width),
        projector(exactOp.keep, exactOp.keepRank, width),
      ),
    ).toBeLessThan(1e-4)
  })

  it('falls back to the Grams when the step budget runs out, giving the Gram fit exactly', async () => {
    const rows = 40
    const width = 64
    const { activations, neutral } = problem(rows, width, (seed) => structuredRows(rows, width, 8, seed, 0.3))
    const products = onnxProducts(1)
    try {
      const viaGrams = spectralOp(
        (await fitSpectral('sea', activations, neutral, linear, { strategy: 'grams', products }))
          .interventions[0],
      )
      const fallback = spectralOp(
        (
          await fitSpectral('sea', activations, neutral, linear, {
            strategy: 'matrix-free',
            maxSteps: 1,
            products,
          })
        ).interventions[0],
      )
      expect([...fallback.keep]).toEqual([...viaGrams.keep])
      expect([...fallback.remove]).toEqual([...viaGrams.remove])
    } finally {
      await products.release()
    }
  })

  it('bounds the total ‖Aᵀ B‖²_F: the exact value lies within the margin of the estimate', async () => {
    const rows = 50
    const width = 70
    const neutral = structuredRows(rows, width, 8, 21, 0.3)
    const side = structuredRows(rows, width, 8, 22, 0.3)
    let exact = 0
    for (let a = 0; a < width; a++) {
      for (let b = 0; b < width; b++) {
        let entry = 0
        for (let row = 0; row < rows; row++) {
          entry += (neutral[row * width + a] as number) * (side[row * width + b] as number)
        }
        exact += entry * entry
      }
    }
    const products = onnxRowProducts(1)
    try {
      const sketch = await sketchNeutral(
        products,
        products.matrix(neutral, rows, width),
        gaussianProbes(32, width),
      )
      const operators = sketchedOperators(products, sketch, products.matrix(side, rows, width))
      const bounds = await operators.total({ vectors: [], images: [], projectedTrace: 0 })
      expect(bounds.margin).toBeGreaterThan(0)
      expect(Math.abs(bounds.value - exact)).toBeLessThanOrEqual(bounds.margin)
    } finally {
      await products.release()
    }
  })

  it('updates the remainder estimate as the basis grows without a further product over the side', async () => {
    const rows = 50
    const width = 70
    const neutral = structuredRows(rows, width, 8, 23, 0.3)
    const side = structuredRows(rows, width, 8, 24, 0.3)
    const products = onnxRowProducts(1)
    let energyRuns = 0
    const counted = {
      ...products,
      energies: (...args: Parameters<typeof products.energies>) => {
        energyRuns++
        return products.energies(...args)
      },
    }
    try {
      const neutralMatrix = products.matrix(neutral, rows, width)
      const sideMatrix = products.matrix(side, rows, width)
      const sketch = await sketchNeutral(products, neutralMatrix, gaussianProbes(32, width))
      const growing = sketchedOperators(counted, sketch, sideMatrix)
      // A G-orthonormal basis built as Lanczos builds it: G q by a product, S (G q) through the operators.
      const vectors: Float64Array[] = []
      const images: Float64Array[] = []
      let projectedTrace = 0
      let previousRemainder = Infinity
      const draw = random(9)
      const dot = (first: Float64Array, second: Float64Array) =>
        first.reduce((sum, value, index) => sum + value * (second[index] as number), 0)
      for (let step = 0; step < 3; step++) {
        const candidate = Float64Array.from({ length: rows }, () => draw.gaussian())
        const image = await growing.applyGram(candidate)
        vectors.forEach((vector, index) => {
          const vectorImage = images[index] as Float64Array
          const projection = dot(vectorImage, candidate)
          candidate.forEach((value, row) => (candidate[row] = value - projection * (vector[row] as number)))
          image.forEach((value, row) => (image[row] = value - projection * (vectorImage[row] as number)))
        })
        const length = Math.sqrt(dot(candidate, image))
        const vector = candidate.map((value) => value / length)
        const vectorImage = image.map((value) => value / length)
        vectors.push(vector)
        images.push(vectorImage)
        projectedTrace += dot(vectorImage, await growing.applySide(vectorImage))
        const basis = { vectors: vectors.slice(), images: images.slice(), projectedTrace }
        const updated = await growing.total(basis)
        // A fresh operator has nothing kept: it deflates the probes by the whole basis and measures again.
        const measured = await sketchedOperators(products, sketch, sideMatrix).total(basis)
        // The part outside the basis, where the two differ if at all: it shrinks as the basis grows.
        const remainder = measured.value - projectedTrace
        expect(remainder).toBeLessThan(previousRemainder)
        previousRemainder = remainder
        expect(Math.abs(updated.value - projectedTrace - remainder)).toBeLessThan(1e-6 * remainder)
        expect(Math.abs(updated.margin - measured.margin)).toBeLessThan(1e-6 * measured.margin)
      }
      // One product over the side for the first estimate; the two later ones reused it.
      expect(energyRuns).toBe(1)
    } finally {
      await products.release()
    }
  })

  it('runs lockstep products as one batch, equal to separate ones, and lets a member go on alone', async () => {
    const rows = 12
    const width = 20
    const draw = random(5)
    const values = Float32Array.from({ length: rows * width }, () => draw.gaussian())
    const products = onnxRowProducts(1)
    try {
      const matrix = products.matrix(values, rows, width)
      const first = Float64Array.from({ length: rows }, () => draw.gaussian())
      const second = Float64Array.from({ length: rows }, () => draw.gaussian())
      const lockstep = lockstepReflect(products, matrix)
      const [one, two] = [lockstep.join(), lockstep.join()]
      const pending = one.reflect(first)
      let settled = false
      void pending.then(() => (settled = true))
      await new Promise((resolve) => setImmediate(resolve))
      // The first member waits for the second before anything runs.
      expect(settled).toBe(false)
      const [together, alsoTogether] = await Promise.all([pending, two.reflect(second)])
      // Batched or not, float64 products agree to rounding.
      const near = (actual: Float64Array, expected: Float64Array) =>
        expect(largestDifference(actual, expected)).toBeLessThan(
          1e-12 * (1 + Math.max(...expected.map(Math.abs))),
        )
      near(together, await products.reflect(matrix, first, 1))
      near(alsoTogether, await products.reflect(matrix, second, 1))
      two.leave()
      near(await one.reflect(second), alsoTogether)
    } finally {
      await products.release()
    }
  })
})
