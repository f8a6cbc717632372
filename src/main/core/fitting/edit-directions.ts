/**
 * The directions of an edit's interventions and the cosines between two edits' directions at the same layer and
 * site, for the Fit screen's diagnostics. Per op (METHODS.md):
 *   add (mean-diff, CAA, PCA control vectors, ITI's head vector)  the added vector v, signed
 *   addAt (ActAdd)                                               the mean of its per-position vectors, signed
 *   project (directional ablation r̂, PCA projections)            the subspace of the basis rows (no sign:
 *                                                                removing r̂ and −r̂ is the same edit)
 *   spectral, φ = identity (SEA)                                 the kept subspace U⁺ (the positive directions)
 *   householder (HPR)                                            the probe θ, signed
 * SADI's scale and patch factors and Φ-SEA's non-identity feature maps have no direction in the site's own space:
 * they are left out. Matrices here are at most rank × width with rank a few dozen, so plain loops are fine.
 */
import type { DirectionCosine, DirectionKind, EditedDiagnostics } from '../../../shared/layer-diagnostics.ts'
import type { Edit, HookSite, Intervention, MethodId } from '../../../shared/edit.ts'

/** One intervention's direction: unit rows, one for a vector, `rank` orthonormal ones for a subspace. */
export interface EditDirection {
  layer: number
  site: HookSite
  kind: DirectionKind
  /** `[rank, width]` row-major; rank 1 for a vector. */
  rows: Float64Array
  rank: number
  width: number
}

function unit(values: ArrayLike<number>): Float64Array | null {
  let total = 0
  for (let index = 0; index < values.length; index++) total += (values[index] ?? 0) ** 2
  const length = Math.sqrt(total)
  if (!(length > 0) || !Number.isFinite(length)) return null
  return Float64Array.from(values, (value) => value / length)
}

function vectorDirection(intervention: Intervention, values: ArrayLike<number>): EditDirection | null {
  const rows = unit(values)
  if (rows === null) return null
  const { layer, site } = intervention
  return { layer, site, kind: 'vector', rows, rank: 1, width: rows.length }
}

function subspaceDirection(
  intervention: Intervention,
  basis: Float32Array,
  rank: number,
): EditDirection | null {
  if (rank === 0) return null
  const width = basis.length / rank
  const { layer, site } = intervention
  return { layer, site, kind: 'subspace', rows: Float64Array.from(basis), rank, width }
}

/** The intervention's direction, or null where the op has none in the site's space. */
export function directionOf(intervention: Intervention): EditDirection | null {
  const op = intervention.op
  switch (op.kind) {
    case 'add':
      return vectorDirection(intervention, op.vector)
    case 'addAt': {
      const width = op.vectors.length / op.count
      const sum = new Float64Array(width)
      for (let row = 0; row < op.count; row++)
        for (let index = 0; index < width; index++)
          sum[index] = (sum[index] ?? 0) + (op.vectors[row * width + index] ?? 0)
      return vectorDirection(intervention, sum)
    }
    case 'project':
      return subspaceDirection(intervention, op.basis, op.rank)
    case 'spectral':
      return op.phi === 'identity' ? subspaceDirection(intervention, op.keep, op.keepRank) : null
    case 'householder':
      return vectorDirection(intervention, op.probe)
    case 'scale':
    case 'patch':
      return null
  }
}

/** `[first.rank, second.rank]`: the dot products of the rows. */
function crossProducts(first: EditDirection, second: EditDirection): number[][] {
  const products: number[][] = []
  for (let row = 0; row < first.rank; row++) {
    const line: number[] = []
    for (let column = 0; column < second.rank; column++) {
      let dot = 0
      for (let index = 0; index < first.width; index++)
        dot +=
          (first.rows[row * first.width + index] ?? 0) * (second.rows[column * second.width + index] ?? 0)
      line.push(dot)
    }
    products.push(line)
  }
  return products
}

/** Largest singular value of a small matrix, by power iteration on MᵀM. */
function largestSingularValue(matrix: number[][]): number {
  const columns = matrix[0]?.length ?? 0
  let vector = new Float64Array(columns).fill(1 / Math.sqrt(Math.max(1, columns)))
  let value = 0
  for (let iteration = 0; iteration < 200; iteration++) {
    const image = matrix.map((line) =>
      line.reduce((sum, entry, index) => sum + entry * (vector[index] ?? 0), 0),
    )
    const back = new Float64Array(columns)
    matrix.forEach((line, row) =>
      line.forEach((entry, index) => (back[index] = (back[index] ?? 0) + entry * (image[row] ?? 0))),
    )
    const length = Math.sqrt(back.reduce((sum, entry) => sum + entry * entry, 0))
    if (length === 0) return 0
    const next = Math.sqrt(length)
    vector = back.map((entry) => entry / length)
    if (Math.abs(next - value) < 1e-12) return next
    value = next
  }
  return value
}

/**
 * Cosine between two directions of one width: signed for two vectors; for a vector and a subspace ‖B v̂‖; for two
 * subspaces the largest singular value of B₁B₂ᵀ (the cosine of their smallest principal angle).
 */
export function directionCosine(first: EditDirection, second: EditDirection): number {
  const products = crossProducts(first, second)
  if (first.kind === 'vector' && second.kind === 'vector') return products[0]?.[0] ?? 0
  if (first.kind === 'vector' || second.kind === 'vector') {
    const entries = products.flat()
    return Math.min(1, Math.sqrt(entries.reduce((sum, entry) => sum + entry * entry, 0)))
  }
  return Math.min(1, largestSingularValue(products))
}

/** Another held edit to compare with. */
export interface ComparedEdit {
  id: string
  label: string
  method: MethodId
  edit: Edit
}

/** The cosines between `edit`'s directions and each other edit's at the same layer and site (and width). */
export function directionCosines(edit: Edit, others: readonly ComparedEdit[]): DirectionCosine[] {
  const cosines: DirectionCosine[] = []
  for (const intervention of edit.interventions) {
    const own = directionOf(intervention)
    if (own === null) continue
    for (const other of others) {
      if (other.edit.id === edit.id) continue
      for (const candidate of other.edit.interventions) {
        if (candidate.layer !== own.layer || candidate.site !== own.site) continue
        const theirs = directionOf(candidate)
        if (theirs === null || theirs.width !== own.width) continue
        cosines.push({
          layer: own.layer,
          site: own.site,
          otherId: other.id,
          otherLabel: other.label,
          otherMethod: other.method,
          own: own.kind,
          other: theirs.kind,
          cosine: directionCosine(own, theirs),
        })
      }
    }
  }
  return cosines
}

/** The report's edit part, without norms (those go into the rows). */
export function editedDiagnostics(
  edit: Edit,
  strength: number,
  others: readonly ComparedEdit[],
): EditedDiagnostics {
  const layers = [...new Set(edit.interventions.map((intervention) => intervention.layer))].sort(
    (first, second) => first - second,
  )
  return { editId: edit.id, method: edit.method, strength, layers, cosines: directionCosines(edit, others) }
}
