/**
 * Orthonormal bases by modified Gram–Schmidt in float64, for `project` ops whose basis rows must be orthonormal.
 */

/** An orthonormal basis and the rows that were dependent on earlier ones. */
export interface OrthonormalBasis {
  /** `[rank, width]` row-major, orthonormal rows. */
  basis: Float32Array
  rank: number
  /** Indices of input rows dropped because they lie (numerically) in the span of earlier rows. */
  dependentRows: number[]
}

/**
 * Orthonormalize the rows of `vectors` `[count, width]` in order (modified Gram–Schmidt, two passes for stability).
 * A row whose remaining norm is below `tolerance` × its original norm is reported in `dependentRows`.
 */
export function orthonormalize(
  vectors: Float32Array,
  count: number,
  width: number,
  tolerance = 1e-6,
): OrthonormalBasis {
  if (vectors.length !== count * width) {
    throw new RangeError(`orthonormalize: ${vectors.length} values, expected ${count} × ${width}`)
  }
  const accepted: Float64Array[] = []
  const dependentRows: number[] = []
  for (let row = 0; row < count; row++) {
    const current = Float64Array.from(vectors.subarray(row * width, (row + 1) * width))
    let original = 0
    for (const value of current) original += value * value
    original = Math.sqrt(original)
    for (let pass = 0; pass < 2; pass++) {
      for (const previous of accepted) {
        let projection = 0
        for (let column = 0; column < width; column++) {
          projection += (current[column] as number) * (previous[column] as number)
        }
        for (let column = 0; column < width; column++) {
          current[column] = (current[column] as number) - projection * (previous[column] as number)
        }
      }
    }
    let remaining = 0
    for (const value of current) remaining += value * value
    remaining = Math.sqrt(remaining)
    if (!(original > 0) || remaining <= tolerance * original) {
      dependentRows.push(row)
      continue
    }
    for (let column = 0; column < width; column++) current[column] = (current[column] as number) / remaining
    accepted.push(current)
  }
  const basis = new Float32Array(accepted.length * width)
  accepted.forEach((row, index) => basis.set(row, index * width))
  return { basis, rank: accepted.length, dependentRows }
}
