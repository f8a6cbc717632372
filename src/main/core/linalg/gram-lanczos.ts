/**
 * The leading eigenpairs of Ω Ωᵀ for a cross-covariance Ω = Aᵀ B / N, from the two Gram matrices G = A Aᵀ and
 * S = B Bᵀ `[size, size]` only, by Lanczos with full reorthogonalisation; stops as soon as the converged pairs
 * explain the requested share of Σσ².
 *
 * Eigenvectors lie in A's row space: u = Aᵀ a. Then Ω Ωᵀ u = σ² u becomes T a = N² σ² a with T = S G, which is
 * self-adjoint in the inner product ⟨x, y⟩_G = xᵀ G y (G T = G S G is symmetric). Lanczos in that inner product
 * needs only products with G and S; a G-orthonormal basis Q gives unit vectors Aᵀ q, and the projected matrix
 * H = (G Q)ᵀ S (G Q) holds the Ritz values. The total Σ N²σ² = trace(S G) decides when the leading pairs are
 * enough (METHODS.md §1.4 step 6). An invariant Krylov space (breakdown) restarts from a random vector
 * G-orthogonal to the basis; when none is left, A's row space is exhausted and H is exact.
 *
 * G and S enter only through products with vectors ({@link KrylovOperators}), and the total through bounds the
 * operators give for the current basis: exact from the two Gram matrices ({@link gramOperators}), or estimated
 * without them (linalg/sketched-operators.ts), in which case the cut-off is accepted only when it is the same at
 * both ends of the bounds.
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
  /** Give up after this many Lanczos steps without a certain cut-off (default: no limit). */
  maxSteps?: number
}

/** What {@link krylovEigenpairs} returns when `maxSteps` ran out before the cut-off was certain. */
export const overBudget = 'over-budget'

/** The Krylov basis so far: G-orthonormal vectors q_j and their images G q_j, `[size]` each. */
export interface KrylovBasis {
  vectors: readonly Float64Array[]
  images: readonly Float64Array[]
  /** trace(H) = Σ_j (G q_j)ᵀ S (G q_j): the part of the total inside span(Aᵀ Q). */
  projectedTrace: number
}

/** trace(S G) as a value with a margin: the true total lies in [value − margin, value + margin]. */
export interface TotalBounds {
  value: number
  margin: number
}

/** Products with G and S and bounds on the total, for one cross-covariance. */
export interface KrylovOperators {
  size: number
  applyGram(vector: Float64Array): Promise<Float64Array>
  applySide(vector: Float64Array): Promise<Float64Array>
  total(basis: KrylovBasis): Promise<TotalBounds>
}

/** A Ritz pair counts as converged when its residual is below this share of the largest Ritz value. */
const residualTolerance = 1e-9

/** The kept span counts as converged when its angle to the invariant subspace is below this (float32 storage). */
const subspaceTolerance = 1e-7

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

/** Exact operators from the two Gram matrices G `[size, size]` and S `[size, size]`. */
export function gramOperators(gram: Float64Array, side: Float64Array, size: number): KrylovOperators {
  let total = 0
  for (let index = 0; index < size * size; index++) total += (gram[index] as number) * (side[index] as number)
  return {
    size,
    applyGram: (vector) => Promise.resolve(multiply(gram, vector, size)),
    applySide: (vector) => Promise.resolve(multiply(side, vector, size)),
    total: () => Promise.resolve({ value: total, margin: 0 }),
  }
}

/**
 * Leading eigenpairs of S G (see the file comment), or undefined when trace(S G) is 0 (Ω = 0).
 * @param gram G = A Aᵀ `[size, size]`
 * @param side S = B Bᵀ `[size, size]`
 */
export async function leadingEigenpairs(
  gram: Float64Array,
  side: Float64Array,
  size: number,
  settings: LanczosSettings,
): Promise<LeadingEigenpairs | undefined> {
  const found = await krylovEigenpairs(gramOperators(gram, side, size), settings)
  return found === overBudget ? undefined : found
}

/**
 * Leading eigenpairs of S G through `operators`; undefined when the total is 0 (Ω = 0), {@link overBudget} when
 * `settings.maxSteps` steps did not settle the cut-off.
 */
export async function krylovEigenpairs(
  operators: KrylovOperators,
  settings: LanczosSettings,
): Promise<LeadingEigenpairs | undefined | typeof overBudget> {
  const size = operators.size
  const basis: Float64Array[] = []
  const images: Float64Array[] = []
  // projected[j][i] = H_ij for i ≤ j (H = (G Q)ᵀ S (G Q), symmetric).
  const projected: Float64Array[] = []
  const draw = startVectors(size)
  let candidate = draw()
  let projectedTrace = 0
  // Refreshed at every convergence check; Ω = 0 shows there (S G q = 0, so the first check sees a zero total).
  let bounds: TotalBounds = { value: 0, margin: 0 }
  let nextCheck = 2
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
    return {
      values: eigen.values.slice(0, count),
      coefficients,
      count,
      total: bounds.value,
      steps: basis.length,
    }
  }
  /**
   * The cut-off count when every pair it needs has converged (residual = `residual`·|last component|) and it is
   * the same at both ends of the total's bounds.
   */
  const converged = (eigen: ReturnType<typeof symmetricEigen>, residual: number): number | undefined => {
    const count = basis.length
    const values = eigen.values.map((value) => Math.max(0, value))
    let found = 0
    for (const value of values) found += value
    const high = bounds.value + bounds.margin
    const low = bounds.margin > 0 ? Math.max(found, bounds.value - bounds.margin) : bounds.value
    const cut = settings.cutOff(values, high)
    if (settings.cutOff(values, low) !== cut) return undefined
    let explained = 0
    for (let index = 0; index < cut; index++) explained += values[index] as number
    if (explained < settings.threshold * high) return undefined
    // With no pair after the cut-off found yet, a cluster may continue unseen unless nothing is left to find.
    if (cut >= count && high - found > settings.precision * high) return undefined
    const largest = values[0] as number
    const errors = Array.from({ length: Math.min(count, cut + 1) }, (_, pair) =>
      Math.abs(residual * (eigen.vectors[pair * count + count - 1] as number)),
    )
    const lastKept = values[cut - 1] as number
    // The pair after the cut-off only decides whether a cluster continues: it is settled once it has converged or
    // even its upper bound (Ritz value + residual) stays clear of the last kept value by more than the tolerance.
    if (cut < count) {
      const error = errors[cut] as number
      const clear = lastKept - ((values[cut] as number) + error) > settings.precision * largest
      if (error > residualTolerance * largest && !clear) return undefined
    }
    const kept = errors.slice(0, cut)
    if (kept.every((error) => error <= residualTolerance * largest)) return cut
    // Or the kept span is settled as a whole: by Davis–Kahan, sin Θ ≤ ‖R‖_F / δ with δ the gap from the last kept
    // value to everything below it; below float32 precision the stored basis cannot tell the difference.
    const gap = cut < count ? lastKept - ((values[cut] as number) + (errors[cut] as number)) : lastKept
    if (!(gap > 0) || Math.hypot(...kept) > subspaceTolerance * gap) return undefined
    return cut
  }

  while (basis.length < size) {
    // G x is kept up to date through the orthogonalisation: G(x − c q) = G x − c (G q).
    const image = await operators.applyGram(candidate)
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
      bounds = await operators.total({ vectors: basis, images, projectedTrace })
      if (!(bounds.value + bounds.margin > 0)) return undefined
      const eigen = ritz()
      const cut = converged(eigen, breakdown ? 0 : Math.sqrt(squared))
      if (cut !== undefined) return finish(eigen, cut)
      nextCheck = Math.max(nextCheck + 1, Math.ceil(nextCheck * 1.25))
      if (settings.maxSteps !== undefined && basis.length >= settings.maxSteps) return overBudget
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
    const next = await operators.applySide(vectorImage)
    const column = Float64Array.from(images, (previous) => dot(previous, next))
    projectedTrace += column[column.length - 1] as number
    projected.push(column)
    candidate = next
  }
  bounds = await operators.total({ vectors: basis, images, projectedTrace })
  if (!(bounds.value + bounds.margin > 0)) return undefined
  const eigen = ritz()
  const values = eigen.values.map((value) => Math.max(0, value))
  return finish(eigen, settings.cutOff(values, bounds.value))
}
