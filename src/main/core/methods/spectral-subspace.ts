/**
 * SEA's per-layer linear algebra (METHODS.md §1.4, §1.9) without ever forming a `[width, width]` matrix.
 *
 * With rows as samples, A `[rows, width]` the neutral activations and B `[rows, width]` one side's,
 * Ω = Aᵀ B / N `[width, width]` has rank ≤ N and its left singular vectors lie in A's row space. From the Grams
 * G = A Aᵀ and S = B Bᵀ (`[N, N]`, the only products over the width) Lanczos finds the leading ones
 * (linalg/gram-lanczos.ts) and stops once they explain K of Σσ²; the basis rows are combinations of A's rows.
 * Cost per side: one Gram (N² · width), a few N² products per Lanczos step, k combinations (k · N · width).
 *
 * Large problems skip the Grams ({@link matrixFreeSubspace}): each Lanczos step multiplies by A, Aᵀ, B and Bᵀ
 * (4 · N · width) and the total comes with a margin (linalg/sketched-operators.ts); a side whose cut-off is not
 * settled within a step budget falls back to the Grams.
 */
import {
  krylovEigenpairs,
  leadingEigenpairs,
  overBudget,
  type LeadingEigenpairs,
} from '../linalg/gram-lanczos.ts'
import type { MatrixProducts } from '../linalg/matrix-products.ts'
import type { LockstepMember, RowMatrix, RowProducts } from '../linalg/row-products.ts'
import { sketchedOperators, type NeutralSketch } from '../linalg/sketched-operators.ts'

/** The top singular directions of one cross-covariance, cut at an explained-variance share. */
export interface SingularSubspace {
  /** `[rank, width]` orthonormal rows: the top `rank` left singular vectors. */
  basis: Float32Array
  rank: number
  /** Σ_{j≤rank} e_j, the share of Σσ² the chosen directions explain. */
  explained: number
  /** The kept singular values σ_j of Ω, descending. */
  singularValues: Float64Array
  /** Lanczos steps the fit took. */
  steps: number
}

/**
 * The smallest k with Σ_{j≤k} σ_j² ≥ `threshold` · `total` (`energies` = σ², descending), then grown over every
 * later σ² within `clusterTolerance` × σ₁² of the k-th: a degenerate cluster straddling the cut-off has no
 * preferred member, so it is kept whole (METHODS.md §1.10). Never more than `energies.length`.
 */
export function cutOff(
  energies: Float64Array,
  threshold: number,
  clusterTolerance: number,
  total: number,
): number {
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
    (energies[count] as number) > 0 &&
    (energies[count - 1] as number) - (energies[count] as number) <= clusterTolerance * largest
  ) {
    count++
  }
  return count
}

/**
 * Left singular vectors of Aᵀ B / N for the neutral matrix A (with its Gram `neutralGram`) and one side B.
 * @param neutral A `[rows, width]`
 * @param side B `[rows, width]`
 * @returns undefined when Ω is zero (no singular values)
 */
export async function singularSubspace(
  neutral: Float32Array,
  neutralGram: Float64Array,
  side: Float32Array,
  rows: number,
  width: number,
  threshold: number,
  precision: number,
  products: MatrixProducts,
): Promise<SingularSubspace | undefined> {
  const sideGram = await products.gram(side, side, rows, width)
  const pairs = await leadingEigenpairs(neutralGram, sideGram, rows, {
    threshold,
    precision,
    cutOff: (values, total) => cutOff(values, threshold, precision, total),
  })
  if (pairs === undefined) return undefined
  return subspaceOf(pairs, neutral, rows, width, products)
}

/** Relative rounding of the float64 Lanczos products (as the float64 JavaScript Grams). */
const rowPrecision = 1e-12

/**
 * As {@link singularSubspace}, without Grams: Lanczos through thin products with the neutral matrix and the side.
 * @param neutral A with its probe sketch
 * @param side B `[rows, width]`
 * @param maxSteps Lanczos steps before giving up ({@link overBudget}: use the Grams instead)
 * @param gram G x shared in lockstep with the other side's run (left when this run ends)
 */
export async function matrixFreeSubspace(
  neutral: NeutralSketch,
  neutralValues: Float32Array,
  side: RowMatrix,
  threshold: number,
  maxSteps: number,
  rowProducts: RowProducts,
  products: MatrixProducts,
  gram?: LockstepMember,
): Promise<SingularSubspace | undefined | typeof overBudget> {
  const { rows, width } = neutral.matrix
  let pairs: Awaited<ReturnType<typeof krylovEigenpairs>>
  try {
    pairs = await krylovEigenpairs(sketchedOperators(rowProducts, neutral, side, gram?.reflect), {
      threshold,
      precision: rowPrecision,
      cutOff: (values, total) => cutOff(values, threshold, rowPrecision, total),
      maxSteps,
    })
  } finally {
    gram?.leave()
  }
  if (pairs === undefined || pairs === overBudget) return pairs
  return subspaceOf(pairs, neutralValues, rows, width, products)
}

/** The basis rows Aᵀ a_j, renormalised, with the pairs' statistics. */
async function subspaceOf(
  pairs: LeadingEigenpairs,
  neutral: Float32Array,
  rows: number,
  width: number,
  products: MatrixProducts,
): Promise<SingularSubspace> {
  const basis = await products.combine(pairs.coefficients, pairs.count, neutral, rows, width)
  // Aᵀ a is a unit vector in exact arithmetic; renormalise away the rounding of the combination.
  for (let index = 0; index < pairs.count; index++) {
    const vector = basis.subarray(index * width, (index + 1) * width)
    let squared = 0
    for (const value of vector) squared += value * value
    const length = Math.sqrt(squared)
    if (length > 0)
      for (let column = 0; column < width; column++) vector[column] = (vector[column] as number) / length
  }
  let kept = 0
  for (const value of pairs.values) kept += Math.max(0, value)
  return {
    basis,
    rank: pairs.count,
    explained: Math.min(1, kept / pairs.total),
    singularValues: pairs.values.map((value) => Math.sqrt(Math.max(0, value)) / rows),
    steps: pairs.steps,
  }
}
