/**
 * Rank-revealing Cholesky factorisation of a positive semi-definite Gram matrix in float64: G ≈ L Lᵀ with
 * L `[size, rank]`, choosing at each step the row with the largest remaining diagonal. Cost O(size · rank²).
 *
 * For a Gram matrix G = A Aᵀ of the rows of A, the pivot rows are a basis of A's row space and
 * Q = A_pivotsᵀ L_pivots⁻ᵀ has orthonormal columns: a thin QR of Aᵀ without touching the width.
 */

/** The factor and which rows were chosen. */
export interface PivotedCholesky {
  /** `[size, rank]` row-major, rows in the original order; row pivots[j] has zeros right of column j. */
  factor: Float64Array
  rank: number
  /** The chosen rows, in the order chosen. */
  pivots: number[]
}

/**
 * Factor `gram` `[size, size]` (symmetric PSD). Stops when the largest remaining diagonal falls to
 * `tolerance` × the largest initial diagonal: the rest is rounding noise of a rank-deficient matrix.
 */
export function pivotedCholesky(gram: Float64Array, size: number, tolerance: number): PivotedCholesky {
  const remaining = new Float64Array(size)
  let largest = 0
  for (let index = 0; index < size; index++) {
    remaining[index] = gram[index * size + index] as number
    largest = Math.max(largest, remaining[index] as number)
  }
  const columns: Float64Array[] = []
  const pivots: number[] = []
  const chosen = new Uint8Array(size)
  const limit = tolerance * largest
  while (columns.length < size) {
    let pivot = -1
    let best = limit
    for (let index = 0; index < size; index++) {
      if (chosen[index] === 0 && (remaining[index] as number) > best) {
        best = remaining[index] as number
        pivot = index
      }
    }
    if (pivot < 0 || !(best > 0)) break
    const scale = Math.sqrt(best)
    // column = (G[:, pivot] − Σ_previous previous · previous[pivot]) / scale, over rows not chosen yet.
    const column = new Float64Array(size)
    for (let index = 0; index < size; index++) column[index] = gram[index * size + pivot] as number
    for (const previous of columns) {
      const weight = previous[pivot] as number
      if (weight === 0) continue
      for (let index = 0; index < size; index++) {
        column[index] = (column[index] as number) - (previous[index] as number) * weight
      }
    }
    for (let index = 0; index < size; index++) {
      column[index] = chosen[index] === 1 ? 0 : (column[index] as number) / scale
    }
    column[pivot] = scale
    chosen[pivot] = 1
    for (let index = 0; index < size; index++) {
      if (chosen[index] === 0)
        remaining[index] = (remaining[index] as number) - (column[index] as number) ** 2
    }
    remaining[pivot] = 0
    columns.push(column)
    pivots.push(pivot)
  }
  const rank = columns.length
  const factor = new Float64Array(size * rank)
  columns.forEach((column, j) => {
    for (let index = 0; index < size; index++) factor[index * rank + j] = column[index] as number
  })
  return { factor, rank, pivots }
}

/**
 * Solve L_pivotsᵀ x = w for x, where L_pivots `[rank, rank]` (the pivot rows of the factor) is lower triangular.
 * @returns `[rank]`
 */
export function solvePivotTranspose(cholesky: PivotedCholesky, right: Float64Array): Float64Array {
  const { factor, rank, pivots } = cholesky
  const solution = new Float64Array(rank)
  for (let row = rank - 1; row >= 0; row--) {
    let value = right[row] as number
    for (let later = row + 1; later < rank; later++) {
      value -= (factor[(pivots[later] as number) * rank + row] as number) * (solution[later] as number)
    }
    solution[row] = value / (factor[(pivots[row] as number) * rank + row] as number)
  }
  return solution
}
