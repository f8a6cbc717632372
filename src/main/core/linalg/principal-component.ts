/**
 * The top principal component of a row-major matrix by power iteration, in float64.
 *
 * PCA needs only the leading right singular vector here (METHODS.md §7.4), so power iteration on the centred
 * `[rows, width]` matrix is enough: each step costs two matrix–vector products, O(rows · width), and never forms
 * the `[width, width]` covariance.
 */
import { columnMeans } from './statistics.ts'

/** Power-iteration controls. */
export interface PowerIterationOptions {
  /** Subtract the column means first (sklearn PCA does). */
  center: boolean
  /** Stop when `1 − |cos(v_k, v_{k−1})|` falls below this. */
  tolerance?: number
  maxIterations?: number
}

/** The leading component and how it was found. */
export interface PrincipalComponent {
  /** Unit vector `[width]`; its sign is arbitrary (callers fix it by a vote). */
  direction: Float64Array
  /** Variance along the direction: σ₁² / rows. */
  variance: number
  /** Share of the total variance the direction explains, in [0, 1]. */
  explainedRatio: number
  iterations: number
  converged: boolean
}

// Below this share of the uncentred energy the centred matrix is treated as zero: float32 rows that are all
// equal leave only rounding residue (~1e-16 relative) after float64 centring.
const degenerateRatio = 1e-12

function centred(
  matrix: Float32Array | Float64Array,
  rows: number,
  width: number,
  center: boolean,
): Float64Array {
  const result = Float64Array.from(matrix)
  if (!center) return result
  const means = columnMeans(matrix, rows, width)
  for (let row = 0; row < rows; row++) {
    const offset = row * width
    for (let column = 0; column < width; column++) {
      result[offset + column] = (result[offset + column] as number) - (means[column] as number)
    }
  }
  return result
}

function squaredSum(values: Float32Array | Float64Array): number {
  let total = 0
  for (const value of values) total += value * value
  return total
}

/** `v ← Xᵀ (X v)` for X `[rows, width]`; returns the new vector `[width]`. */
function gramProduct(matrix: Float64Array, rows: number, width: number, vector: Float64Array): Float64Array {
  const result = new Float64Array(width)
  for (let row = 0; row < rows; row++) {
    const offset = row * width
    let projection = 0
    for (let column = 0; column < width; column++) {
      projection += (matrix[offset + column] as number) * (vector[column] as number)
    }
    if (projection === 0) continue
    for (let column = 0; column < width; column++) {
      result[column] = (result[column] as number) + projection * (matrix[offset + column] as number)
    }
  }
  return result
}

function unit(vector: Float64Array): { vector: Float64Array; length: number } {
  const length = Math.sqrt(squaredSum(vector))
  if (length > 0)
    for (let index = 0; index < vector.length; index++) vector[index] = (vector[index] as number) / length
  return { vector, length }
}

/** Deterministic start: the row with the largest norm (never orthogonal to the top component when it is unique). */
function startVector(matrix: Float64Array, rows: number, width: number): Float64Array {
  let best = 0
  let bestNorm = -1
  for (let row = 0; row < rows; row++) {
    const rowNorm = squaredSum(matrix.subarray(row * width, (row + 1) * width))
    if (rowNorm > bestNorm) {
      bestNorm = rowNorm
      best = row
    }
  }
  return Float64Array.from(matrix.subarray(best * width, (best + 1) * width))
}

/**
 * Leading principal component of `matrix` `[rows, width]`.
 * Returns undefined when the (centred) matrix has no variance, i.e. every direction is equally (un)explained.
 */
export function topPrincipalComponent(
  matrix: Float32Array | Float64Array,
  rows: number,
  width: number,
  options: PowerIterationOptions,
): PrincipalComponent | undefined {
  if (matrix.length !== rows * width) {
    throw new RangeError(
      `topPrincipalComponent: matrix has ${matrix.length} values, expected ${rows} × ${width}`,
    )
  }
  const tolerance = options.tolerance ?? 1e-13
  const maxIterations = options.maxIterations ?? 1000
  const data = centred(matrix, rows, width, options.center)
  const total = squaredSum(data)
  if (rows === 0 || !(total > degenerateRatio * squaredSum(matrix))) return undefined

  let { vector } = unit(startVector(data, rows, width))
  let eigenvalue = 0
  let iterations = 0
  let converged = false
  while (iterations < maxIterations) {
    iterations++
    const next = unit(gramProduct(data, rows, width, vector))
    eigenvalue = next.length
    let agreement = 0
    for (let column = 0; column < width; column++) {
      agreement += (next.vector[column] as number) * (vector[column] as number)
    }
    vector = next.vector
    if (1 - Math.abs(agreement) < tolerance) {
      converged = true
      break
    }
  }
  return {
    direction: vector,
    variance: eigenvalue / rows,
    explainedRatio: Math.min(1, eigenvalue / total),
    iterations,
    converged,
  }
}
