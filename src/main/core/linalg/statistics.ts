/**
 * Means and mean differences of row-major activation matrices, accumulated in float64 (METHODS.md §0.3).
 */

/**
 * Column means of a row-major matrix.
 * @param matrix `[rows, width]`
 * @returns `[width]` in float64
 */
export function columnMeans(matrix: Float32Array | Float64Array, rows: number, width: number): Float64Array {
  if (matrix.length !== rows * width) {
    throw new RangeError(`columnMeans: matrix has ${matrix.length} values, expected ${rows} × ${width}`)
  }
  const total = new Float64Array(width)
  for (let row = 0; row < rows; row++) {
    const offset = row * width
    for (let column = 0; column < width; column++) {
      total[column] = (total[column] as number) + (matrix[offset + column] as number)
    }
  }
  if (rows > 0)
    for (let column = 0; column < width; column++) total[column] = (total[column] as number) / rows
  return total
}

/**
 * `mean(positive) − mean(negative)` over rows, each mean accumulated in float64.
 * @param positive `[positiveRows, width]`
 * @param negative `[negativeRows, width]`
 * @returns `[width]`
 */
export function meanDifference(
  positive: Float32Array,
  positiveRows: number,
  negative: Float32Array,
  negativeRows: number,
  width: number,
): Float32Array {
  const positiveMean = columnMeans(positive, positiveRows, width)
  const negativeMean = columnMeans(negative, negativeRows, width)
  const result = new Float32Array(width)
  for (let column = 0; column < width; column++) {
    result[column] = (positiveMean[column] as number) - (negativeMean[column] as number)
  }
  return result
}

/**
 * Row-wise projections `matrix · direction`.
 * @param matrix `[rows, width]`
 * @param direction `[width]`
 * @returns `[rows]` in float64
 */
export function projectRows(
  matrix: Float32Array | Float64Array,
  rows: number,
  width: number,
  direction: Float32Array | Float64Array,
): Float64Array {
  const result = new Float64Array(rows)
  for (let row = 0; row < rows; row++) {
    const offset = row * width
    let total = 0
    for (let column = 0; column < width; column++) {
      total += (matrix[offset + column] as number) * (direction[column] as number)
    }
    result[row] = total
  }
  return result
}
