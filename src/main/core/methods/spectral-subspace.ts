/**
 * SEA's per-layer linear algebra (METHODS.md §1.4, §1.9) without ever forming a `[width, width]` matrix.
 *
 * With rows as samples, A `[rows, width]` the neutral activations and B `[rows, width]` one side's:
 *   Ω = Aᵀ B / N `[width, width]`, rank ≤ N. Its left singular vectors are wanted.
 *   G = A Aᵀ ≈ L Lᵀ by pivoted Cholesky (L `[N, r]`); Q = A_pᵀ L_p⁻ᵀ `[width, r]` is orthonormal and Aᵀ ≈ Q Lᵀ.
 *   Then Ω Ωᵀ = Q M Qᵀ with M = Lᵀ (B Bᵀ) L / N² `[r, r]`: M's eigenvalues are σ², its eigenvectors w give the
 *   left singular vectors u = Q w = A_pᵀ (L_p⁻ᵀ w), a combination of the pivot rows of A.
 * Cost per side: the Gram B Bᵀ (N² · width), a congruence (N² · r), an r×r eigenproblem and k combinations of
 * A's rows (k · N · width).
 */
import type { MatrixProducts } from '../linalg/matrix-products.ts'
import { solvePivotTranspose, type PivotedCholesky } from '../linalg/pivoted-cholesky.ts'
import { symmetricEigen } from '../linalg/symmetric-eigen.ts'

/** The top singular directions of one cross-covariance, cut at an explained-variance share. */
export interface SingularSubspace {
  /** `[rank, width]` orthonormal rows: the top `rank` left singular vectors. */
  basis: Float32Array
  rank: number
  /** Σ_{j≤rank} e_j, the share of Σσ² the chosen directions explain. */
  explained: number
  /** Singular values σ_j of Ω, descending (all r of them). */
  singularValues: Float64Array
}

/**
 * The smallest k with Σ_{j≤k} e_j ≥ `threshold` (e_j = σ_j²/Σσ², from `energies` = σ², descending), then grown
 * over every later σ² within `clusterTolerance` × σ₁² of the k-th: a degenerate cluster straddling the cut-off
 * has no preferred member, so it is kept whole (METHODS.md §1.10).
 */
export function cutOff(energies: Float64Array, threshold: number, clusterTolerance: number): number {
  let total = 0
  for (const energy of energies) total += energy
  let cumulative = 0
  let count = 0
  while (count < energies.length && cumulative < threshold * total) {
    cumulative += energies[count] as number
    count++
  }
  const largest = energies[0] ?? 0
  while (
    count > 0 &&
    count < energies.length &&
    (energies[count - 1] as number) - (energies[count] as number) <= clusterTolerance * largest &&
    (energies[count] as number) > 0
  ) {
    count++
  }
  return count
}

/**
 * Left singular vectors of Aᵀ B / N for the neutral matrix A (factored as `cholesky` of A Aᵀ) and one side B.
 * @param neutral A `[rows, width]`
 * @param side B `[rows, width]`
 * @returns undefined when Ω is zero (no singular values)
 */
export async function singularSubspace(
  neutral: Float32Array,
  side: Float32Array,
  cholesky: PivotedCholesky,
  rows: number,
  width: number,
  threshold: number,
  clusterTolerance: number,
  products: MatrixProducts,
): Promise<SingularSubspace | undefined> {
  const { rank } = cholesky
  const sideGram = await products.gram(side, side, rows, width)
  const small = await products.congruence(cholesky.factor, rows, rank, sideGram)
  const scale = 1 / (rows * rows)
  // Symmetrise away rounding before the eigenproblem; σ² < 0 can only be rounding.
  for (let first = 0; first < rank; first++) {
    for (let second = first; second < rank; second++) {
      const mean =
        ((small[first * rank + second] as number) + (small[second * rank + first] as number)) * 0.5 * scale
      small[first * rank + second] = mean
      small[second * rank + first] = mean
    }
  }
  const eigen = symmetricEigen(small, rank)
  const energies = eigen.values.map((value) => Math.max(0, value))
  let total = 0
  for (const energy of energies) total += energy
  if (!(total > 0)) return undefined
  const count = cutOff(energies, threshold, clusterTolerance)
  const coefficients = new Float64Array(count * rows)
  let explained = 0
  for (let index = 0; index < count; index++) {
    explained += (energies[index] as number) / total
    const onPivots = solvePivotTranspose(cholesky, eigen.vectors.subarray(index * rank, (index + 1) * rank))
    cholesky.pivots.forEach((pivot, position) => {
      coefficients[index * rows + pivot] = onPivots[position] as number
    })
  }
  const basis = await products.combine(coefficients, count, neutral, rows, width)
  // Q w is a unit vector in exact arithmetic; renormalise away the float32 drift of the combination.
  for (let index = 0; index < count; index++) {
    const vector = basis.subarray(index * width, (index + 1) * width)
    let squared = 0
    for (const value of vector) squared += value * value
    const length = Math.sqrt(squared)
    if (length > 0)
      for (let column = 0; column < width; column++) vector[column] = (vector[column] as number) / length
  }
  return {
    basis,
    rank: count,
    explained: Math.min(1, explained),
    singularValues: energies.map(Math.sqrt),
  }
}
