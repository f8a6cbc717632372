/**
 * The leading eigenpairs of Ω Ωᵀ for a cross-covariance Ω = Aᵀ B / N, from the two Gram matrices G = A Aᵀ and
 * S = B Bᵀ `[size, size]` only, by Lanczos with full reorthogonalisation; stops as soon as the converged pairs
 * explain the requested share of Σσ².
 *
 * Eigenvectors lie in A's row space: u = Aᵀ a. Then Ω Ωᵀ u = σ² u becomes T a = N² σ² a with T = S G, which is
 * self-adjoint in the inner product ⟨x, y⟩_G = xᵀ G y (G T = G S G is symmetric). Lanczos in that inner product
 * needs only products with G and S; a G-orthonormal basis Q gives unit vectors Aᵀ q, and the projected matrix
 * H = (G Q)ᵀ S (G Q) holds the Ritz values. The total Σ N²σ² = trace(S G) is known up front, so the iteration
 * knows when the leading pairs are enough (METHODS.md §1.4 step 6). An invariant Krylov space (breakdown) restarts
 * from a random vector G-orthogonal to the basis; when none is left, A's row space is exhausted and H is exact.
 */
import { symmetricEigen } from './symmetric-eigen.ts'

/** The leading eigenpairs, cut at a share of the total. */
export interface LeadingEigenpairs {
  /** N² σ_j², descending, `[count]`. */
  values: Float64Array
  /** `[count, size]`: coefficients a_j with Aᵀ a_j a unit eigenvector of Ω Ωᵀ. */
  coefficients: Float64Array
  count: number
  /** trace(S G) = Σ N² σ². */
  total: number
  /** Lanczos steps taken. */
  steps: number
}

/** Settings of {@link leadingEigenpairs}. */
export interface LanczosSettings {
  /** K in (0, 1): the share of the total the kept pairs must explain. */
  threshold: number
  /** Relative rounding level of the Grams: below it a direction counts as outside A's row space. */
  precision: number
  /** Picks the cut-off count from values (descending) and the total (spectral-subspace.ts `cutOff`). */
  cutOff: (values: Float64Array, total: number) => number
}

/** A Ritz pair counts as converged when its residual is below this share of the largest Ritz value. */
const residualTolerance = 1e-9

function multiply(matrix: Float64Array, vector: Float64Array, size: number): Float64Array {
  const result = new Float64Array(size)
  for (let row = 0; row < size; row++) {
    let sum = 0
    const offset = row * size
    for (let column = 0; column < size; column++)
      sum += (matrix[offset + column] as number) * (vector[column] as number)
    result[row] = sum
  }
  return result
}

function dot(first: Float64Array, second: Float64Array): number {
  let sum = 0
  for (let index = 0; index < first.length; index++)
    sum += (first[index] as number) * (second[index] as number)
  return sum
}

/** A deterministic generator of start vectors, so a fit is reproducible. */
function startVectors(size: number): () => Float64Array {
  let state = 0x5eadf00d
  return () => {
    const vector = new Float64Array(size)
    for (let index = 0; index < size; index++) {
      state = (Math.imul(state, 1664525) + 1013904223) >>> 0
      vector[index] = state / 4294967296 - 0.5
    }
    return vector
  }
}

/**
 * Leading eigenpairs of S G (see the file comment), or undefined when trace(S G) is 0 (Ω = 0).
 * @param gram G = A Aᵀ `[size, size]`
 * @param side S = B Bᵀ `[size, size]`
 */
export function leadingEigenpairs(
  gram: Float64Array,
  side: Float64Array,
  size: number,
  settings: LanczosSettings,
): LeadingEigenpairs | undefined {
  let total = 0
  for (let index = 0; index < size * size; index++) total += (gram[index] as number) * (side[index] as number)
  if (!(total > 0)) return undefined
  const basis: Float64Array[] = []
  const images: Float64Array[] = []
  // projected[j][i] = H_ij for i ≤ j (H = (G Q)ᵀ S (G Q), symmetric).
  const projected: Float64Array[] = []
  const draw = startVectors(size)
  let candidate = draw()
  let nextCheck = 4
  let restarted = false

  const ritz = () => {
    const count = basis.length
    const matrix = new Float64Array(count * count)
    projected.forEach((column, j) => {
      for (let i = 0; i <= j; i++) {
        matrix[i * count + j] = column[i] as number
        matrix[j * count + i] = column[i] as number
      }
    })
    return symmetricEigen(matrix, count)
  }
  const finish = (eigen: ReturnType<typeof symmetricEigen>, count: number): LeadingEigenpairs => {
    const coefficients = new Float64Array(count * size)
    for (let pair = 0; pair < count; pair++) {
      const target = coefficients.subarray(pair * size, (pair + 1) * size)
      basis.forEach((vector, index) => {
        const weight = eigen.vectors[pair * basis.length + index] as number
        for (let row = 0; row < size; row++)
          target[row] = (target[row] as number) + weight * (vector[row] as number)
      })
    }
    return { values: eigen.values.slice(0, count), coefficients, count, total, steps: basis.length }
  }
  /** The cut-off count when every pair it needs has converged (residual = `residual`·|last component|). */
  const converged = (eigen: ReturnType<typeof symmetricEigen>, residual: number): number | undefined => {
    const count = basis.length
    const values = eigen.values.map((value) => Math.max(0, value))
    const cut = settings.cutOff(values, total)
    let explained = 0
    for (let index = 0; index < cut; index++) explained += values[index] as number
    if (explained < settings.threshold * total) return undefined
    // With no pair after the cut-off found yet, a cluster may continue unseen unless nothing is left to find.
    let found = 0
    for (const value of values) found += value
    if (cut >= count && total - found > settings.precision * total) return undefined
    const largest = values[0] as number
    // The pair after the cut-off decides whether a cluster continues, so it must have converged too.
    for (let pair = 0; pair < Math.min(count, cut + 1); pair++) {
      const last = eigen.vectors[pair * count + count - 1] as number
      if (Math.abs(residual * last) > residualTolerance * largest) return undefined
    }
    return cut
  }

  while (basis.length < size) {
    // G x is kept up to date through the orthogonalisation: G(x − c q) = G x − c (G q).
    const image = multiply(gram, candidate, size)
    const before = dot(candidate, image)
    for (let pass = 0; pass < 2; pass++) {
      basis.forEach((vector, index) => {
        const vectorImage = images[index] as Float64Array
        const projection = dot(vectorImage, candidate)
        if (projection === 0) return
        for (let row = 0; row < size; row++) {
          candidate[row] = (candidate[row] as number) - projection * (vector[row] as number)
          image[row] = (image[row] as number) - projection * (vectorImage[row] as number)
        }
      })
    }
    const squared = dot(candidate, image)
    const breakdown = !(squared > settings.precision * Math.max(before, 0)) || !(squared > 0)
    if (basis.length > 0 && !restarted && (breakdown || basis.length >= nextCheck)) {
      const eigen = ritz()
      const cut = converged(eigen, breakdown ? 0 : Math.sqrt(squared))
      if (cut !== undefined) return finish(eigen, cut)
      nextCheck = Math.max(nextCheck + 1, Math.ceil(nextCheck * 1.25))
    }
    if (breakdown) {
      // Invariant subspace (or a restart vector already in the span): try a fresh direction once.
      if (restarted) break
      restarted = true
      candidate = draw()
      continue
    }
    restarted = false
    const length = Math.sqrt(squared)
    const vector = candidate.map((value) => value / length)
    const vectorImage = image.map((value) => value / length)
    basis.push(vector)
    images.push(vectorImage)
    const next = multiply(side, vectorImage, size)
    projected.push(Float64Array.from(images, (previous) => dot(previous, next)))
    candidate = next
  }
  const eigen = ritz()
  const values = eigen.values.map((value) => Math.max(0, value))
  return finish(eigen, settings.cutOff(values, total))
}
