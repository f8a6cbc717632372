/**
 * Krylov operators for Ω = Aᵀ B without the Gram matrices (A `[rows, width]` neutral, B `[rows, width]` one side):
 * G x = A (Aᵀ x) and S x = B (Bᵀ x) are two thin products each, and the total trace(S G) = ‖Aᵀ B‖²_F, the one
 * quantity that would need the Grams, is split along the Lanczos basis V = Aᵀ Q (orthonormal, QᵀGQ = I):
 *
 *   trace(T) = trace(Vᵀ T V) + trace(P⊥ T P⊥),   T = Aᵀ S A `[width, width]`, P⊥ = I − V Vᵀ
 *
 * The first term is trace(H), exact from the Lanczos recurrence. The second, what lies outside the basis, is
 * estimated by Hutchinson's method on Gaussian probes z projected out of V: E[z'ᵀ T z'] = trace(P⊥ T P⊥), with
 * z'ᵀ T z' = ‖Bᵀ (A z')‖² and A z' = A z − (G Q)(Qᵀ A z), so A z is computed once per layer and the first
 * estimate costs one thin product with B (later ones none: see `sketchedOperators`). The margin is four standard
 * errors of the probe mean plus float32 rounding; as the basis grows the remainder shrinks and with it the margin,
 * and Lanczos (gram-lanczos.ts) accepts a cut-off
 * only when it is the same at both ends. Deflating by the basis is what makes this accurate (Hutch++ by Meyer,
 * Musco, Musco and Woodruff, 2021, uses the same split): the leading directions, which dominate a plain estimate's
 * variance, are counted exactly.
 */
import type { KrylovBasis, KrylovOperators } from './gram-lanczos.ts'
import type { RowMatrix, RowProducts } from './row-products.ts'

/** Probes per estimate: the margin's standard error is known to about ±13 % with 32 samples. */
export const defaultProbes = 32

/** How many standard errors of the probe mean the margin spans. */
const marginDeviations = 4

/** Relative rounding of the float32 products. */
const rounding = 1e-6

/** The neutral matrix with A Zᵀ for a fixed set of probes, shared by both sides of a layer. */
export interface NeutralSketch {
  matrix: RowMatrix
  /** A z_p for each probe, `[probes, rows]`. */
  sketched: Float64Array
  probes: number
}

/**
 * `target` holds one slice of `vector.length` values per probe: slice p −= `weights[p]` · `vector` (deflating every
 * probe's product by one basis direction at once).
 */
function subtractPerProbe(target: Float64Array, weights: Float64Array, vector: Float64Array): void {
  const length = vector.length
  weights.forEach((weight, probe) => {
    const slice = target.subarray(probe * length, (probe + 1) * length)
    for (let index = 0; index < length; index++)
      slice[index] = (slice[index] as number) - weight * (vector[index] as number)
  })
}

/** Deterministic standard Gaussian probes `[count, width]`, so a fit is reproducible. */
export function gaussianProbes(count: number, width: number): Float32Array {
  let state = 0x2545f491
  const uniform = () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0
    return (state + 0.5) / 4294967296
  }
  return Float32Array.from(
    { length: count * width },
    () => Math.sqrt(-2 * Math.log(uniform())) * Math.cos(2 * Math.PI * uniform()),
  )
}

/**
 * A Zᵀ for Gaussian probes Z `[probes, width]` (from {@link gaussianProbes}; one set serves every layer).
 */
export async function sketchNeutral(
  products: RowProducts,
  matrix: RowMatrix,
  probeValues: Float32Array,
): Promise<NeutralSketch> {
  const probes = probeValues.length / matrix.width
  const sketched = await products.sketch(matrix, probeValues, probes)
  return { matrix, sketched, probes }
}

/**
 * Operators for one side B against the sketched neutral matrix (G x through `applyGram` when given).
 *
 * The remainder's samples are ‖Bᵀ (A z'_p)‖² for the probes deflated by the basis. The first estimate computes
 * Bᵀ (A z'_p) in one product over B and keeps it; a later one, whose basis only grew, subtracts the new basis
 * vectors' parts, Bᵀ (A z'_p) − c_pj Bᵀ (G q_j) with c_pj = q_jᵀ (A z_p), where Bᵀ (G q_j) is the intermediate of
 * the product S (G q_j) Lanczos already took for q_j: no further pass over B.
 */
export function sketchedOperators(
  products: RowProducts,
  neutral: NeutralSketch,
  side: RowMatrix,
  applyGram: (vector: Float64Array) => Promise<Float64Array> = (vector) =>
    products.reflect(neutral.matrix, vector, 1),
): KrylovOperators {
  const size = neutral.matrix.rows
  const width = side.width
  const { probes } = neutral
  // Bᵀ x of every vector S x was applied to, by the vector.
  const sideBacks = new WeakMap<Float64Array, Float64Array>()
  // Bᵀ (A z'_p) `[probes, width]` with z'_p deflated by `deflatedBy` (the basis vectors, in order).
  let deflatedBacks: Float64Array | undefined
  let deflatedBy: readonly Float64Array[] = []
  /** q_jᵀ (A z_p) for every probe p: `[probes]`. */
  const coefficients = (vector: Float64Array): Float64Array =>
    Float64Array.from({ length: probes }, (_, probe) => {
      const original = neutral.sketched.subarray(probe * size, (probe + 1) * size)
      let coefficient = 0
      for (let row = 0; row < size; row++) coefficient += (vector[row] as number) * (original[row] as number)
      return coefficient
    })
  /** The samples through one product over B with the sketch deflated by the whole basis. */
  const measured = async (basis: KrylovBasis): Promise<Float64Array> => {
    const deflated = neutral.sketched.slice()
    basis.vectors.forEach((vector, index) => {
      const image = basis.images[index] as Float64Array
      subtractPerProbe(deflated, coefficients(vector), image)
    })
    const { energies, backs } = await products.energies(side, deflated, probes)
    deflatedBacks = backs
    deflatedBy = basis.vectors.slice()
    return energies
  }
  /** The samples from the kept products when the basis extends the one they were deflated by, else undefined. */
  const updated = (basis: KrylovBasis): Float64Array | undefined => {
    const backs = deflatedBacks
    if (backs === undefined || basis.vectors.length < deflatedBy.length) return undefined
    if (deflatedBy.some((vector, index) => basis.vectors[index] !== vector)) return undefined
    const added = basis.vectors.slice(deflatedBy.length)
    const addedBacks = basis.images.slice(deflatedBy.length).map((image) => sideBacks.get(image))
    if (addedBacks.some((back) => back === undefined)) return undefined
    added.forEach((vector, index) => {
      const back = addedBacks[index] as Float64Array
      subtractPerProbe(backs, coefficients(vector), back)
    })
    deflatedBy = basis.vectors.slice()
    return Float64Array.from({ length: probes }, (_, probe) => {
      let energy = 0
      for (let column = probe * width; column < (probe + 1) * width; column++)
        energy += (backs[column] as number) ** 2
      return energy
    })
  }
  return {
    size,
    applyGram,
    async applySide(vector) {
      const { reflected, back } = await products.reflectOne(side, vector)
      sideBacks.set(vector, back)
      return reflected
    },
    async total(basis) {
      const samples = updated(basis) ?? (await measured(basis))
      let mean = 0
      for (const sample of samples) mean += sample / probes
      let variance = 0
      for (const sample of samples) variance += (sample - mean) ** 2 / (probes - 1)
      const value = basis.projectedTrace + mean
      return {
        value,
        margin: marginDeviations * Math.sqrt(variance / probes) + rounding * value,
      }
    },
  }
}
