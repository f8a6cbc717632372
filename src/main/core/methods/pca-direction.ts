/**
 * The repeng PCA direction (METHODS.md §7.1), shared by `pca-diff` and `pca-center`: the first principal component
 * of a training matrix (column-centred, as sklearn does), unit norm, with the sign fixed by a majority vote.
 */
import type { ActivationSet } from '../../../shared/activations.ts'
import type { Intervention } from '../../../shared/edit.ts'
import { topPrincipalComponent } from '../linalg/principal-component.ts'
import { projectRows } from '../linalg/statistics.ts'
import { TillerError } from '../errors.ts'
import { layerMatrices, type MethodFit } from './method.ts'

/** How the training matrix is built from the pairs. */
export type PcaMode = 'pca-diff' | 'pca-center'

/**
 * How long the fitted vector is. `unit`: repeng's unit direction, whose usable coefficient depends on the model's
 * residual norm (hundreds on small models). `natural`: the unit direction times the mean margin
 * mean_i(d̂ᵀh⁺_i − d̂ᵀh⁻_i), so strength 1 moves activations by the pairs' mean separation along d̂ — the same
 * scale as mean-diff's vector projected on d̂, and a strength range that means the same on every model.
 */
export type PcaScale = 'unit' | 'natural'

/**
 * Rows of the training matrix.
 *   pca-diff:   h⁺_i − h⁻_i                              `[rows, width]`
 *   pca-center: h⁺_i − c_i and h⁻_i − c_i, c_i = (h⁺_i + h⁻_i)/2   `[2·rows, width]`
 */
function trainingMatrix(
  mode: PcaMode,
  positive: Float32Array,
  negative: Float32Array,
  rows: number,
  width: number,
): { matrix: Float64Array; rows: number } {
  if (mode === 'pca-diff') {
    const matrix = new Float64Array(rows * width)
    for (let index = 0; index < matrix.length; index++) {
      matrix[index] = (positive[index] as number) - (negative[index] as number)
    }
    return { matrix, rows }
  }
  const matrix = new Float64Array(2 * rows * width)
  for (let row = 0; row < rows; row++) {
    for (let column = 0; column < width; column++) {
      const index = row * width + column
      const center = ((positive[index] as number) + (negative[index] as number)) / 2
      matrix[2 * row * width + column] = (positive[index] as number) - center
      matrix[(2 * row + 1) * width + column] = (negative[index] as number) - center
    }
  }
  return { matrix, rows: 2 * rows }
}

/**
 * Negate `direction` when more pairs project lower on the positive side than on the negative one (ties broken by
 * the summed margin). Centring both sides by c_i does not change the comparison, so raw activations serve both modes.
 */
function fixSign(
  direction: Float64Array,
  positive: Float32Array,
  negative: Float32Array,
  rows: number,
  width: number,
): { direction: Float64Array; greater: number; smaller: number; flipped: boolean; meanMargin: number } {
  const positiveProjections = projectRows(positive, rows, width, direction)
  const negativeProjections = projectRows(negative, rows, width, direction)
  let greater = 0
  let smaller = 0
  let margin = 0
  for (let row = 0; row < rows; row++) {
    const difference = (positiveProjections[row] as number) - (negativeProjections[row] as number)
    if (difference > 0) greater++
    else if (difference < 0) smaller++
    margin += difference
  }
  const flipped = smaller > greater || (smaller === greater && margin < 0)
  const result = flipped ? direction.map((value) => -value) : direction
  return {
    direction: result,
    greater: flipped ? smaller : greater,
    smaller: flipped ? greater : smaller,
    flipped,
    meanMargin: Math.abs(margin) / rows,
  }
}

/**
 * Fit unit directions for every captured layer; each becomes an `add` at resid_post, all positions.
 * A layer whose training matrix has no variance after centring (e.g. a perfectly constant difference) has no
 * principal direction: that is refused, pointing to mean-diff, rather than returning an arbitrary vector.
 */
export function fitPcaDirections(
  activations: ActivationSet,
  mode: PcaMode,
  scale: PcaScale = 'natural',
): MethodFit {
  const interventions: Intervention[] = []
  const notes: string[] = []
  const { rows, width } = activations
  activations.layers.forEach((layer, index) => {
    const { positive, negative } = layerMatrices(activations, index)
    const training = trainingMatrix(mode, positive, negative, rows, width)
    const component = topPrincipalComponent(training.matrix, training.rows, width, { center: true })
    if (component === undefined) {
      throw new TillerError(
        'invalid-dataset',
        `${mode}: at layer ${layer} the ${mode === 'pca-diff' ? 'pair differences do not vary' : 'activations do not vary'}` +
          ' after centring, so there is no principal direction; use mean-diff for this data.',
        { subject: `layer ${layer}` },
      )
    }
    const signed = fixSign(component.direction, positive, negative, rows, width)
    if (scale === 'natural' && !(signed.meanMargin > 0)) {
      throw new TillerError(
        'invalid-dataset',
        `${mode}: at layer ${layer} the pairs do not separate along the principal direction (mean margin 0), ` +
          'so it has no natural scale; use scale "unit" or mean-diff for this data.',
        { subject: `layer ${layer}` },
      )
    }
    const length = scale === 'natural' ? signed.meanMargin : 1
    interventions.push({
      layer,
      site: 'resid_post',
      positions: { kind: 'all' },
      op: { kind: 'add', vector: Float32Array.from(signed.direction, (value) => value * length) },
    })
    notes.push(
      `layer ${layer}: explains ${(100 * component.explainedRatio).toFixed(1)} % of the variance; ` +
        `${signed.greater}/${rows} pairs project higher on the positive side; ` +
        `mean margin ${signed.meanMargin.toPrecision(4)}` +
        (scale === 'natural' ? ' (the vector length)' : ' (unit vector)') +
        (component.converged ? '' : ` (power iteration stopped after ${component.iterations} steps)`),
    )
  })
  return { interventions, notes }
}
