import { describe, expect, it } from 'vitest'
import { orthonormalize } from '../../src/main/core/linalg/gram-schmidt.ts'
import { topPrincipalComponent } from '../../src/main/core/linalg/principal-component.ts'
import { columnMeans, meanDifference } from '../../src/main/core/linalg/statistics.ts'
import { random } from './synthetic.ts'

describe('linear algebra helpers', () => {
  it('finds the top principal component of a matrix with a known dominant axis', () => {
    // Rows spread 10× more along (1, 1, 0)/√2 than along (0, 0, 1); centring removes the offset (5, −3, 2).
    const draw = random(1)
    const rows = 50
    const matrix = new Float32Array(rows * 3)
    for (let row = 0; row < rows; row++) {
      const major = 10 * draw.gaussian()
      const minor = draw.gaussian()
      matrix.set([5 + major / Math.SQRT2, -3 + major / Math.SQRT2, 2 + minor], row * 3)
    }
    const component = topPrincipalComponent(matrix, rows, 3, { center: true })!
    expect(component.converged).toBe(true)
    expect(Math.abs(component.direction[0]! + component.direction[1]!) / Math.SQRT2).toBeCloseTo(1, 3)
    expect(Math.hypot(...component.direction)).toBeCloseTo(1, 12)
    expect(component.explainedRatio).toBeGreaterThan(0.95)
    // Variance along the direction equals the sample variance of the projections.
    const means = columnMeans(matrix, rows, 3)
    let variance = 0
    for (let row = 0; row < rows; row++) {
      let projection = 0
      for (let column = 0; column < 3; column++) {
        projection += (matrix[row * 3 + column]! - means[column]!) * component.direction[column]!
      }
      variance += projection * projection
    }
    expect(component.variance).toBeCloseTo(variance / rows, 6)
  })

  it('reports no component for a matrix with no variance after centring', () => {
    const constant = Float32Array.of(1, 2, 1, 2, 1, 2)
    expect(topPrincipalComponent(constant, 3, 2, { center: true })).toBeUndefined()
    expect(topPrincipalComponent(constant, 3, 2, { center: false })).toBeDefined()
  })

  it('computes mean differences in float64', () => {
    // In float32, 2^24 + 1 rounds back to 2^24, so a float32 running sum would give 2^22 instead.
    const positive = Float32Array.of(2 ** 24, 1, 1, 1)
    const negative = Float32Array.of(0.75)
    expect(Array.from(meanDifference(positive, 4, negative, 1, 1))).toEqual([(2 ** 24 + 3) / 4 - 0.75])
  })

  it('orthonormalizes rows and reports dependent ones', () => {
    const rows = Float32Array.of(3, 0, 0, 1, 1, 0, 6, 0, 0, 1, 1, 1)
    const { basis, rank, dependentRows } = orthonormalize(rows, 4, 3)
    expect(rank).toBe(3)
    expect(dependentRows).toEqual([2])
    for (let a = 0; a < rank; a++) {
      for (let b = 0; b < rank; b++) {
        let product = 0
        for (let column = 0; column < 3; column++) product += basis[a * 3 + column]! * basis[b * 3 + column]!
        expect(product).toBeCloseTo(a === b ? 1 : 0, 6)
      }
    }
    expect(Array.from(basis.subarray(0, 3))).toEqual([1, 0, 0])
  })
})
