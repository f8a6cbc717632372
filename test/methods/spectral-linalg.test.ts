import { describe, expect, it } from 'vitest'
import { leadingEigenpairs } from '../../src/main/core/linalg/gram-lanczos.ts'
import { javascriptProducts } from '../../src/main/core/linalg/matrix-products.ts'
import { onnxProducts } from '../../src/main/core/linalg/onnx-products.ts'
import { symmetricEigen } from '../../src/main/core/linalg/symmetric-eigen.ts'
import { cutOff } from '../../src/main/core/methods/spectral-subspace.ts'
import { jacobiEigen } from './dense-reference.ts'
import { random } from './synthetic.ts'

function randomSymmetric(size: number, seed: number): Float64Array {
  const draw = random(seed)
  const matrix = new Float64Array(size * size)
  for (let row = 0; row < size; row++) {
    for (let column = row; column < size; column++) {
      const value = draw.gaussian()
      matrix[row * size + column] = value
      matrix[column * size + row] = value
    }
  }
  return matrix
}

function gaussianRows(rows: number, width: number, seed: number): Float32Array {
  const draw = random(seed)
  return Float32Array.from({ length: rows * width }, () => draw.gaussian())
}

describe('symmetricEigen', () => {
  it('matches a Jacobi reference: A v = λ v, orthonormal vectors, descending values', () => {
    const size = 23
    const matrix = randomSymmetric(size, 7)
    const { values, vectors } = symmetricEigen(matrix, size)
    const reference = jacobiEigen(matrix, size)
    values.forEach((value, index) => expect(value).toBeCloseTo(reference.values[index] as number, 10))
    for (let j = 0; j < size; j++) {
      const vector = vectors.subarray(j * size, (j + 1) * size)
      for (let row = 0; row < size; row++) {
        let product = 0
        for (let column = 0; column < size; column++) {
          product += (matrix[row * size + column] as number) * (vector[column] as number)
        }
        expect(Math.abs(product - (values[j] as number) * (vector[row] as number))).toBeLessThan(1e-10)
      }
      for (let other = 0; other <= j; other++) {
        let inner = 0
        for (let column = 0; column < size; column++) {
          inner += (vector[column] as number) * (vectors[other * size + column] as number)
        }
        expect(Math.abs(inner - (other === j ? 1 : 0))).toBeLessThan(1e-12)
      }
      if (j > 0) expect(values[j]).toBeLessThanOrEqual(values[j - 1] as number)
    }
  })

  it('handles repeated eigenvalues and an already diagonal matrix', () => {
    const diagonal = Float64Array.of(2, 0, 0, 0, 5, 0, 0, 0, 2)
    const { values } = symmetricEigen(diagonal, 3)
    expect([...values]).toEqual([5, 2, 2])
    expect([...symmetricEigen(Float64Array.of(3), 1).values]).toEqual([3])
  })
})

describe('leadingEigenpairs (Lanczos in the Gram inner product)', () => {
  it('finds the σ² of Aᵀ B that explain K of the total, as a dense eigen-decomposition of Ω Ωᵀ does', async () => {
    // A flat spectrum (Gaussian rows): many Lanczos steps before 0.95 of Σσ² is explained.
    const rows = 30
    const width = 40
    const neutral = gaussianRows(rows, width, 1)
    const side = gaussianRows(rows, width, 2)
    const gram = await javascriptProducts.gram(neutral, neutral, rows, width)
    const sideGram = await javascriptProducts.gram(side, side, rows, width)
    const pairs = await leadingEigenpairs(gram, sideGram, rows, {
      threshold: 0.95,
      precision: 1e-12,
      cutOff: (values, total) => cutOff(values, 0.95, 1e-12, total),
    })
    if (pairs === undefined) throw new Error('expected eigenpairs')
    // Dense reference: Ω = Aᵀ B (unscaled), Ω Ωᵀ `[width, width]`.
    const omega = new Float64Array(width * width)
    for (let row = 0; row < rows; row++) {
      for (let a = 0; a < width; a++) {
        for (let b = 0; b < width; b++) {
          omega[a * width + b] =
            (omega[a * width + b] as number) +
            (neutral[row * width + a] as number) * (side[row * width + b] as number)
        }
      }
    }
    const product = new Float64Array(width * width)
    for (let a = 0; a < width; a++) {
      for (let b = 0; b < width; b++) {
        let sum = 0
        for (let c = 0; c < width; c++)
          sum += (omega[a * width + c] as number) * (omega[b * width + c] as number)
        product[a * width + b] = sum
      }
    }
    const reference = jacobiEigen(product, width)
    const total = reference.values.reduce((sum, value) => sum + Math.max(0, value), 0)
    expect(pairs.total / total).toBeCloseTo(1, 10)
    let count = 0
    for (let cumulative = 0; cumulative < 0.95 * total; count++)
      cumulative += reference.values[count] as number
    expect(pairs.count).toBe(count)
    expect(count).toBeGreaterThan(10)
    pairs.values.forEach((value, index) => {
      expect(value / (reference.values[index] as number)).toBeCloseTo(1, 8)
    })
    // Each Aᵀ a is a unit eigenvector of Ω Ωᵀ.
    for (let pair = 0; pair < pairs.count; pair++) {
      const vector = new Float64Array(width)
      for (let row = 0; row < rows; row++) {
        const weight = pairs.coefficients[pair * rows + row] as number
        for (let column = 0; column < width; column++) {
          vector[column] = (vector[column] as number) + weight * (neutral[row * width + column] as number)
        }
      }
      expect(Math.hypot(...vector)).toBeCloseTo(1, 8)
      for (let a = 0; a < width; a++) {
        let applied = 0
        for (let b = 0; b < width; b++) applied += (product[a * width + b] as number) * (vector[b] as number)
        expect(Math.abs(applied - (pairs.values[pair] as number) * (vector[a] as number))).toBeLessThan(
          1e-6 * (pairs.values[0] as number),
        )
      }
    }
  })

  it('returns nothing when Ω is zero', async () => {
    const gram = Float64Array.of(1, 0, 0, 1)
    expect(
      await leadingEigenpairs(gram, new Float64Array(4), 2, {
        threshold: 0.9,
        precision: 1e-12,
        cutOff: (values, total) => cutOff(values, 0.9, 1e-12, total),
      }),
    ).toBeUndefined()
  })
})

describe('onnxProducts', () => {
  it('computes Grams (blocked when symmetric) and combinations as float64 JavaScript does', async () => {
    const rows = 600
    const width = 12
    const first = gaussianRows(rows, width, 3)
    const second = gaussianRows(rows, width, 4)
    const products = onnxProducts(1)
    try {
      for (const [x, y] of [
        [first, first],
        [first, second],
      ] as const) {
        const viaOnnx = await products.gram(x, y, rows, width)
        const reference = await javascriptProducts.gram(x, y, rows, width)
        let largest = 0
        viaOnnx.forEach(
          (value, index) => (largest = Math.max(largest, Math.abs(value - (reference[index] as number)))),
        )
        expect(largest).toBeLessThan(1e-4)
      }
      const coefficients = Float64Array.from({ length: 2 * rows }, (_, index) => Math.sin(index))
      const combined = await products.combine(coefficients, 2, first, rows, width)
      const reference = await javascriptProducts.combine(coefficients, 2, first, rows, width)
      combined.forEach((value, index) =>
        expect(Math.abs(value - (reference[index] as number))).toBeLessThan(1e-3),
      )
    } finally {
      await products.release()
    }
  })
})

describe('cutOff', () => {
  it('takes the fewest directions reaching K and keeps a cluster at the cut-off whole', () => {
    expect(cutOff(Float64Array.of(4, 3, 2, 1), 0.5, 1e-12, 10)).toBe(2)
    expect(cutOff(Float64Array.of(4, 3, 3, 1), 0.6, 1e-12, 11)).toBe(3)
    expect(cutOff(Float64Array.of(1, 0), 0.99, 1e-12, 1)).toBe(1)
  })
})
