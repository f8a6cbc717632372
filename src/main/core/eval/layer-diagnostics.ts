import type { ActivationSet } from '../../../shared/activations.ts'
import type { Edit, Op } from '../../../shared/edit.ts'
import { TillerError } from '../errors.ts'

/**
 * Per-layer diagnostics as series the studio can plot (`{layer, value}` points, like a fit's `diagnostics`):
 * held-out probe accuracy of captured contrast activations, mean activation norms before and after an edit's op
 * at its own layer. The cosines between edits' directions are in fitting/edit-directions.ts.
 */

/** One point of a per-layer series. */
export interface LayerPoint {
  layer: number
  value: number
}

function dot(
  first: Float32Array,
  firstOffset: number,
  second: Float32Array,
  secondOffset: number,
  width: number,
): number {
  let total = 0
  for (let index = 0; index < width; index++)
    total += (first[firstOffset + index] as number) * (second[secondOffset + index] as number)
  return total
}

function meanRow(matrix: Float32Array, rows: number[], width: number): Float64Array {
  const mean = new Float64Array(width)
  for (const row of rows)
    for (let index = 0; index < width; index++)
      mean[index] = (mean[index] as number) + (matrix[row * width + index] as number)
  for (let index = 0; index < width; index++) mean[index] = (mean[index] as number) / Math.max(1, rows.length)
  return mean
}

/**
 * Held-out accuracy of a mean-difference probe per layer: the direction μ⁺ − μ⁻ and the midpoint threshold are
 * fitted on the first `trainShare` of the pairs; the accuracy is the share of the remaining rows (both sides)
 * classified on the right side. Needs at least two pairs.
 */
export function probeAccuracyByLayer(activations: ActivationSet, trainShare = 0.5): LayerPoint[] {
  const { rows, width } = activations
  const trainRows = Math.min(rows - 1, Math.max(1, Math.floor(rows * trainShare)))
  if (rows < 2) {
    throw new TillerError('invalid-argument', `A probe needs at least 2 captured pairs; got ${rows}.`)
  }
  const train = Array.from({ length: trainRows }, (_, row) => row)
  return activations.layers.map((layer, index) => {
    const positive = activations.positive[index] as Float32Array
    const negative = activations.negative[index] as Float32Array
    const positiveMean = meanRow(positive, train, width)
    const negativeMean = meanRow(negative, train, width)
    const direction = new Float32Array(width)
    const midpoint = new Float32Array(width)
    for (let column = 0; column < width; column++) {
      direction[column] = (positiveMean[column] as number) - (negativeMean[column] as number)
      midpoint[column] = ((positiveMean[column] as number) + (negativeMean[column] as number)) / 2
    }
    const threshold = dot(direction, 0, midpoint, 0, width)
    let right = 0
    for (let row = trainRows; row < rows; row++) {
      if (dot(direction, 0, positive, row * width, width) > threshold) right++
      if (dot(direction, 0, negative, row * width, width) <= threshold) right++
    }
    return { layer, value: right / (2 * (rows - trainRows)) }
  })
}

/** h after `op` at strength α, for the ops with a closed form on one vector (add, project, scale); else undefined. */
function applyOp(
  op: Op,
  h: Float32Array,
  offset: number,
  width: number,
  strength: number,
): Float64Array | undefined {
  const out = new Float64Array(width)
  for (let index = 0; index < width; index++) out[index] = h[offset + index] as number
  if (op.kind === 'add') {
    for (let index = 0; index < width; index++)
      out[index] = (out[index] as number) + strength * (op.vector[index] as number)
    return out
  }
  if (op.kind === 'scale') {
    for (let index = 0; index < width; index++)
      out[index] = (out[index] as number) * (1 + strength * (op.factors[index] as number))
    return out
  }
  if (op.kind === 'project') {
    // B̂ᵀB̂h: the component of h in the basis' span.
    const inSpan = new Float64Array(width)
    for (let rank = 0; rank < op.rank; rank++) {
      const coefficient = dot(op.basis, rank * width, h, offset, width)
      for (let index = 0; index < width; index++)
        inSpan[index] = (inSpan[index] as number) + coefficient * (op.basis[rank * width + index] as number)
    }
    for (let index = 0; index < width; index++) {
      const component = inSpan[index] as number
      const original = h[offset + index] as number
      out[index] =
        op.mode === 'keep' ? original + strength * (component - original) : original - strength * component
    }
    return out
  }
  return undefined
}

function norm(vector: ArrayLike<number>): number {
  let total = 0
  for (let index = 0; index < vector.length; index++) total += (vector[index] as number) ** 2
  return Math.sqrt(total)
}

/** Mean activation norms per layer of the captured rows (both sides), and after the edit's op at that layer. */
export interface NormSeries {
  before: LayerPoint[]
  /** Only layers where the edit has an intervention whose op has a closed form (add, project, scale). */
  after: LayerPoint[]
}

/**
 * Norms before and after `edit` at `strength`, applying each intervention's op to the activations captured at its
 * own layer and site (the direct effect, before later layers react). Interventions at other sites are skipped.
 */
export function activationNorms(activations: ActivationSet, edit: Edit, strength: number): NormSeries {
  const { width, rows } = activations
  const before: LayerPoint[] = []
  const after: LayerPoint[] = []
  activations.layers.forEach((layer, index) => {
    const sides = [activations.positive[index] as Float32Array, activations.negative[index] as Float32Array]
    let total = 0
    for (const side of sides)
      for (let row = 0; row < rows; row++) total += norm(side.subarray(row * width, (row + 1) * width))
    before.push({ layer, value: total / (2 * rows) })
    const ops = edit.interventions.filter((entry) => entry.layer === layer && entry.site === activations.site)
    if (ops.length === 0) return
    let edited = 0
    for (const side of sides) {
      for (let row = 0; row < rows; row++) {
        let vector: Float32Array = side.subarray(row * width, (row + 1) * width)
        for (const intervention of ops) {
          const next = applyOp(intervention.op, vector, 0, width, strength)
          if (next === undefined) return
          vector = Float32Array.from(next)
        }
        edited += norm(vector)
      }
    }
    after.push({ layer, value: edited / (2 * rows) })
  })
  return { before, after }
}

/**
 * Separation per layer (d′): the gap between the sides' mean projections on the mean-difference direction μ⁺ − μ⁻
 * (all rows), over the pooled within-side standard deviation of those projections. 0 when the means coincide;
 * infinite when every projection on a side is the same (perfectly separated with no spread).
 */
export function separationByLayer(activations: ActivationSet): LayerPoint[] {
  const { rows, width } = activations
  if (rows < 2) {
    throw new TillerError('invalid-argument', `Separation needs at least 2 captured pairs; got ${rows}.`)
  }
  const all = Array.from({ length: rows }, (_, row) => row)
  return activations.layers.map((layer, index) => {
    const positive = activations.positive[index] as Float32Array
    const negative = activations.negative[index] as Float32Array
    const positiveMean = meanRow(positive, all, width)
    const negativeMean = meanRow(negative, all, width)
    const direction = new Float32Array(width)
    for (let column = 0; column < width; column++)
      direction[column] = (positiveMean[column] as number) - (negativeMean[column] as number)
    const length = norm(direction)
    if (length === 0) return { layer, value: 0 }
    const project = (matrix: Float32Array): Float64Array =>
      Float64Array.from(all, (row) => dot(direction, 0, matrix, row * width, width) / length)
    const sides = [project(positive), project(negative)]
    const means = sides.map((values) => values.reduce((total, value) => total + value, 0) / rows)
    let squares = 0
    sides.forEach((values, side) => {
      for (const value of values) squares += (value - (means[side] as number)) ** 2
    })
    const pooled = Math.sqrt(squares / (2 * rows - 2))
    return { layer, value: ((means[0] as number) - (means[1] as number)) / pooled }
  })
}

/** Mean L2 norm per layer of the captured rows, both sides. */
export function meanNormByLayer(activations: ActivationSet): LayerPoint[] {
  const { rows, width } = activations
  return activations.layers.map((layer, index) => {
    let total = 0
    for (const side of [activations.positive[index], activations.negative[index]] as Float32Array[])
      for (let row = 0; row < rows; row++) total += norm(side.subarray(row * width, (row + 1) * width))
    return { layer, value: total / (2 * rows) }
  })
}
