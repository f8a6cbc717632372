/**
 * Eigen-decomposition of a small dense symmetric matrix in float64: Householder reduction to tridiagonal form,
 * then the implicit QL iteration with Wilkinson-style shifts, accumulating the eigenvectors.
 *
 * Meant for the N×N problems of low-rank fits (N = number of demonstrations, at most a few thousand); cost is
 * O(n³). Eigenvectors are stored as rows so every rotation touches two contiguous rows.
 */

/** Eigenvalues in descending order and the matching unit eigenvectors. */
export interface SymmetricEigen {
  /** `[size]`, descending. */
  values: Float64Array
  /** `[size, size]` row-major; row j is the eigenvector of `values[j]`. */
  vectors: Float64Array
}

const maxIterationsPerValue = 60

/**
 * Reduce `matrix` (overwritten) to tridiagonal form T = Qᵀ A Q.
 * @returns the diagonal `[size]`, the sub-diagonal `[size]` (entry i couples i and i+1; the last is 0) and Qᵀ
 *   `[size, size]` row-major (row i is Q's column i)
 */
function tridiagonalize(
  matrix: Float64Array,
  size: number,
): { diagonal: Float64Array; offDiagonal: Float64Array; transform: Float64Array } {
  const offDiagonal = new Float64Array(size)
  const transform = new Float64Array(size * size)
  for (let index = 0; index < size; index++) transform[index * size + index] = 1
  const reflector = new Float64Array(size)
  const product = new Float64Array(size)
  for (let column = 0; column < size - 2; column++) {
    const start = column + 1
    let length = 0
    for (let row = start; row < size; row++) length += (matrix[row * size + column] as number) ** 2
    length = Math.sqrt(length)
    const head = matrix[start * size + column] as number
    if (length === 0) {
      offDiagonal[column] = 0
      continue
    }
    // v = x − α e₁ with α = −sign(x₀)‖x‖ avoids cancellation; H = I − β v vᵀ maps x to α e₁.
    const alpha = head > 0 ? -length : length
    for (let row = start; row < size; row++) reflector[row] = matrix[row * size + column] as number
    reflector[start] = head - alpha
    let squared = 0
    for (let row = start; row < size; row++) squared += (reflector[row] as number) ** 2
    offDiagonal[column] = alpha
    if (squared === 0) continue
    const beta = 2 / squared
    // Trailing block S ← H S H = S − v qᵀ − q vᵀ with p = β S v, q = p − (β vᵀp / 2) v.
    let vp = 0
    for (let row = start; row < size; row++) {
      let sum = 0
      const offset = row * size
      for (let inner = start; inner < size; inner++) {
        sum += (matrix[offset + inner] as number) * (reflector[inner] as number)
      }
      product[row] = beta * sum
      vp += (reflector[row] as number) * beta * sum
    }
    const correction = (beta * vp) / 2
    for (let row = start; row < size; row++) {
      product[row] = (product[row] as number) - correction * (reflector[row] as number)
    }
    for (let row = start; row < size; row++) {
      const offset = row * size
      const vRow = reflector[row] as number
      const qRow = product[row] as number
      for (let inner = start; inner < size; inner++) {
        matrix[offset + inner] =
          (matrix[offset + inner] as number) -
          vRow * (product[inner] as number) -
          qRow * (reflector[inner] as number)
      }
    }
    // Qᵀ ← H Qᵀ (Qᵀ = H_last ⋯ H_0): rows start… of Qᵀ change.
    for (let inner = 0; inner < size; inner++) product[inner] = 0
    for (let row = start; row < size; row++) {
      const weight = reflector[row] as number
      if (weight === 0) continue
      const offset = row * size
      for (let inner = 0; inner < size; inner++) {
        product[inner] = (product[inner] as number) + weight * (transform[offset + inner] as number)
      }
    }
    for (let row = start; row < size; row++) {
      const weight = beta * (reflector[row] as number)
      if (weight === 0) continue
      const offset = row * size
      for (let inner = 0; inner < size; inner++) {
        transform[offset + inner] =
          (transform[offset + inner] as number) - weight * (product[inner] as number)
      }
    }
  }
  const diagonal = new Float64Array(size)
  for (let index = 0; index < size; index++) diagonal[index] = matrix[index * size + index] as number
  if (size >= 2) offDiagonal[size - 2] = matrix[(size - 1) * size + size - 2] as number
  offDiagonal[size - 1] = 0
  return { diagonal, offDiagonal, transform }
}

/** Rotate rows `first` and `first + 1` of `vectors` by (cosine, sine). */
function rotateRows(vectors: Float64Array, size: number, first: number, cosine: number, sine: number): void {
  const upper = first * size
  const lower = upper + size
  for (let inner = 0; inner < size; inner++) {
    const a = vectors[upper + inner] as number
    const b = vectors[lower + inner] as number
    vectors[lower + inner] = sine * a + cosine * b
    vectors[upper + inner] = cosine * a - sine * b
  }
}

/** Implicit QL on the tridiagonal (diagonal, offDiagonal), applying every rotation to the rows of `vectors`. */
function tridiagonalQl(
  diagonal: Float64Array,
  offDiagonal: Float64Array,
  vectors: Float64Array,
  size: number,
): void {
  for (let low = 0; low < size; low++) {
    for (let iteration = 0; ; iteration++) {
      let high = low
      while (high < size - 1) {
        const scale = Math.abs(diagonal[high] as number) + Math.abs(diagonal[high + 1] as number)
        if (Math.abs(offDiagonal[high] as number) <= Number.EPSILON * scale) break
        high++
      }
      if (high === low) break
      if (iteration >= maxIterationsPerValue) {
        throw new RangeError(`symmetricEigen: QL did not converge for eigenvalue ${low}`)
      }
      const shiftBase =
        ((diagonal[low + 1] as number) - (diagonal[low] as number)) / (2 * (offDiagonal[low] as number))
      const radius = Math.hypot(shiftBase, 1)
      let g =
        (diagonal[high] as number) -
        (diagonal[low] as number) +
        (offDiagonal[low] as number) / (shiftBase + (shiftBase >= 0 ? radius : -radius))
      let sine = 1
      let cosine = 1
      let shift = 0
      let underflow = false
      for (let row = high - 1; row >= low; row--) {
        const f = sine * (offDiagonal[row] as number)
        const b = cosine * (offDiagonal[row] as number)
        const r = Math.hypot(f, g)
        offDiagonal[row + 1] = r
        if (r === 0) {
          diagonal[row + 1] = (diagonal[row + 1] as number) - shift
          offDiagonal[high] = 0
          underflow = true
          break
        }
        sine = f / r
        cosine = g / r
        const next = (diagonal[row + 1] as number) - shift
        const t = ((diagonal[row] as number) - next) * sine + 2 * cosine * b
        shift = sine * t
        diagonal[row + 1] = next + shift
        g = cosine * t - b
        rotateRows(vectors, size, row, cosine, sine)
      }
      if (underflow) continue
      diagonal[low] = (diagonal[low] as number) - shift
      offDiagonal[low] = g
      offDiagonal[high] = 0
    }
  }
}

/**
 * Eigenvalues (descending) and unit eigenvectors of the symmetric `matrix` `[size, size]` (row-major; only its
 * symmetric part is meaningful). The input is not modified.
 */
export function symmetricEigen(matrix: Float64Array, size: number): SymmetricEigen {
  if (matrix.length !== size * size) {
    throw new RangeError(`symmetricEigen: ${matrix.length} values, expected ${size} × ${size}`)
  }
  const work = Float64Array.from(matrix)
  const { diagonal, offDiagonal, transform } = tridiagonalize(work, size)
  tridiagonalQl(diagonal, offDiagonal, transform, size)
  const order = Array.from({ length: size }, (_, index) => index).sort(
    (first, second) => (diagonal[second] as number) - (diagonal[first] as number),
  )
  const values = new Float64Array(size)
  const vectors = new Float64Array(size * size)
  order.forEach((source, target) => {
    values[target] = diagonal[source] as number
    vectors.set(transform.subarray(source * size, (source + 1) * size), target * size)
  })
  return { values, vectors }
}
