/**
 * Dense float64 references for small spectral-method tests: products, projectors from basis rows and a cyclic
 * Jacobi eigen-decomposition (slow, simple, obviously right).
 */

/** A · B for square `[size, size]` row-major matrices. */
export function multiply(first: ArrayLike<number>, second: ArrayLike<number>, size: number): Float64Array {
  const result = new Float64Array(size * size)
  for (let row = 0; row < size; row++) {
    for (let column = 0; column < size; column++) {
      let sum = 0
      for (let inner = 0; inner < size; inner++) {
        sum += (first[row * size + inner] as number) * (second[inner * size + column] as number)
      }
      result[row * size + column] = sum
    }
  }
  return result
}

/** Aᵀ of a square matrix. */
export function transpose(matrix: ArrayLike<number>, size: number): Float64Array {
  const result = new Float64Array(size * size)
  for (let row = 0; row < size; row++) {
    for (let column = 0; column < size; column++)
      result[column * size + row] = matrix[row * size + column] as number
  }
  return result
}

/** Σ_j b_j b_jᵀ for basis rows `[rank, width]`: the projector `[width, width]` they span when orthonormal. */
export function projector(basis: ArrayLike<number>, rank: number, width: number): Float64Array {
  const result = new Float64Array(width * width)
  for (let index = 0; index < rank; index++) {
    for (let row = 0; row < width; row++) {
      const weight = basis[index * width + row] as number
      for (let column = 0; column < width; column++) {
        result[row * width + column] =
          (result[row * width + column] as number) + weight * (basis[index * width + column] as number)
      }
    }
  }
  return result
}

/**
 * Eigenvalues (descending) and eigenvectors (columns of `vectors`) of a symmetric matrix by cyclic Jacobi
 * rotations, until the off-diagonal mass is below 1e-22 of the total.
 */
export function jacobiEigen(
  matrix: ArrayLike<number>,
  size: number,
): { values: number[]; vectors: Float64Array } {
  const a = Float64Array.from(matrix as ArrayLike<number>)
  const v = new Float64Array(size * size)
  for (let index = 0; index < size; index++) v[index * size + index] = 1
  let total = 0
  for (const value of a) total += value * value
  for (let sweep = 0; sweep < 100; sweep++) {
    let off = 0
    for (let p = 0; p < size; p++) for (let q = p + 1; q < size; q++) off += (a[p * size + q] as number) ** 2
    if (off <= 1e-22 * total) break
    for (let p = 0; p < size; p++) {
      for (let q = p + 1; q < size; q++) {
        const apq = a[p * size + q] as number
        if (apq === 0) continue
        const theta = ((a[q * size + q] as number) - (a[p * size + p] as number)) / (2 * apq)
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1))
        const c = 1 / Math.sqrt(t * t + 1)
        const s = t * c
        for (let k = 0; k < size; k++) {
          const akp = a[k * size + p] as number
          const akq = a[k * size + q] as number
          a[k * size + p] = c * akp - s * akq
          a[k * size + q] = s * akp + c * akq
        }
        for (let k = 0; k < size; k++) {
          const apk = a[p * size + k] as number
          const aqk = a[q * size + k] as number
          a[p * size + k] = c * apk - s * aqk
          a[q * size + k] = s * apk + c * aqk
        }
        for (let k = 0; k < size; k++) {
          const vkp = v[k * size + p] as number
          const vkq = v[k * size + q] as number
          v[k * size + p] = c * vkp - s * vkq
          v[k * size + q] = s * vkp + c * vkq
        }
      }
    }
  }
  const order = Array.from({ length: size }, (_, index) => index).sort(
    (first, second) => (a[second * size + second] as number) - (a[first * size + first] as number),
  )
  const vectors = new Float64Array(size * size)
  order.forEach((source, target) => {
    for (let k = 0; k < size; k++) vectors[k * size + target] = v[k * size + source] as number
  })
  return { values: order.map((index) => a[index * size + index] as number), vectors }
}
