/**
 * HPR's token pairs (METHODS.md §2.2): per-token activations of the positive and negative responses paired by
 * position, a pair dropped at a layer when ≥ 75 % of its coordinates are exactly equal (the shared prefix, whose
 * activations coincide under causal attention), and a seeded split of the demonstrations into train and
 * validation (pairs of one demonstration never straddle the split).
 */
import type { ActivationSet } from '../../../../shared/activations.ts'
import { TillerError } from '../../errors.ts'
import { createRandom } from '../../random-streams.ts'

/** Share of equal coordinates from which a token pair is dropped. */
export const equalShareLimit = 0.75

/** The pairs of one candidate layer. */
export interface LayerPairs {
  layer: number
  /** `[rows, width]` row-major, the captured matrices themselves. */
  positive: Float32Array
  negative: Float32Array
  /** 1 where the token pair is kept at this layer, per row. */
  kept: Uint8Array
  keptTrain: number
  keptValidation: number
}

/** Token pairs of every candidate layer with the demonstration split. */
export interface TokenPairs {
  width: number
  /** Token rows in total (kept or not). */
  rows: number
  layers: LayerPairs[]
  /** Rows of training demonstrations, ascending. */
  trainRows: number[]
  /** Rows of validation demonstrations, ascending. */
  validationRows: number[]
  trainDemonstrations: number
  validationDemonstrations: number
}

/** How to split. */
export interface SplitSettings {
  validationFraction: number
  seed: number
}

function checkFinite(activations: ActivationSet, rowOwner: number[]): void {
  const { width } = activations
  activations.layers.forEach((layer, index) => {
    for (const [side, matrix] of [
      ['positive', activations.positive[index]],
      ['negative', activations.negative[index]],
    ] as const) {
      const values = matrix as Float32Array
      for (let position = 0; position < values.length; position++) {
        if (Number.isFinite(values[position])) continue
        const row = Math.floor(position / width)
        const example = activations.exampleIds[rowOwner[row] as number] ?? `#${rowOwner[row]}`
        throw new TillerError(
          'invalid-dataset',
          `hpr: the ${side} activation of example "${example}" at layer ${layer} (token row ${row}) is ` +
            `${values[position]}; the model produced non-finite activations, so no probe can be fitted. ` +
            'Check the model in float32 or remove the example.',
          { subject: example },
        )
      }
    }
  })
}

/** Whether ≥ 75 % of the row's coordinates are exactly equal on both sides. */
function mostlyEqual(positive: Float32Array, negative: Float32Array, offset: number, width: number): boolean {
  let equal = 0
  for (let column = 0; column < width; column++) {
    if (positive[offset + column] === negative[offset + column]) equal++
  }
  return equal >= equalShareLimit * width
}

/**
 * Pair, filter and split `activations` (captured with the per-token `completionTokens` selector).
 * Refuses fewer than two demonstrations, non-finite activations and data with no pair left after filtering.
 */
export function prepareTokenPairs(activations: ActivationSet, settings: SplitSettings): TokenPairs {
  const rowsPerPair = activations.rowsPerPair
  if (rowsPerPair === undefined) {
    throw new TillerError(
      'invalid-argument',
      'hpr needs per-token activations (the completionTokens selector).',
    )
  }
  const demonstrations = rowsPerPair.length
  if (demonstrations < 2) {
    throw new TillerError(
      'invalid-dataset',
      `hpr needs at least 2 demonstrations (one to train on, one to validate the probes); got ${demonstrations}. ` +
        'Add more contrast pairs to the dataset.',
    )
  }
  const rowOwner: number[] = []
  rowsPerPair.forEach((count, demonstration) => {
    for (let row = 0; row < count; row++) rowOwner.push(demonstration)
  })
  checkFinite(activations, rowOwner)

  const validationCount = Math.max(
    1,
    Math.min(demonstrations - 1, Math.round(settings.validationFraction * demonstrations)),
  )
  const order = createRandom(settings.seed)
    .fork('hpr:split')
    .shuffled(Array.from({ length: demonstrations }, (_, index) => index))
  const validation = new Set(order.slice(0, validationCount))
  const trainRows: number[] = []
  const validationRows: number[] = []
  rowOwner.forEach((demonstration, row) =>
    (validation.has(demonstration) ? validationRows : trainRows).push(row),
  )

  const { width } = activations
  const layers = activations.layers.map((layer, index): LayerPairs => {
    const positive = activations.positive[index] as Float32Array
    const negative = activations.negative[index] as Float32Array
    const kept = new Uint8Array(activations.rows)
    for (let row = 0; row < activations.rows; row++) {
      kept[row] = mostlyEqual(positive, negative, row * width, width) ? 0 : 1
    }
    const count = (rows: number[]): number => rows.reduce((sum, row) => sum + (kept[row] as number), 0)
    return {
      layer,
      positive,
      negative,
      kept,
      keptTrain: count(trainRows),
      keptValidation: count(validationRows),
    }
  })
  if (layers.every((pairs) => pairs.keptTrain + pairs.keptValidation === 0)) {
    throw new TillerError(
      'invalid-dataset',
      `hpr: no token pairs are left: at every layer the positive and negative responses' activations are ` +
        `equal in ≥ ${equalShareLimit * 100} % of coordinates at every token (identical responses?). ` +
        'Use demonstrations whose positive and negative responses differ.',
    )
  }
  return {
    width,
    rows: activations.rows,
    layers,
    trainRows,
    validationRows,
    trainDemonstrations: demonstrations - validationCount,
    validationDemonstrations: validationCount,
  }
}

/** g(u, v) = arccos(clamp(cos(u, v), −1 + 1e-7, 1 − 1e-7)) in float64, for rows of two matrices. */
export function clampedAngle(
  u: Float32Array,
  uOffset: number,
  v: Float32Array,
  vOffset: number,
  width: number,
): number {
  let dot = 0
  let uSquare = 0
  let vSquare = 0
  for (let column = 0; column < width; column++) {
    const a = u[uOffset + column] as number
    const b = v[vOffset + column] as number
    dot += a * b
    uSquare += a * a
    vSquare += b * b
  }
  const denominator = Math.sqrt(uSquare * vSquare)
  const cosine = denominator > 0 ? dot / denominator : 1
  return Math.acos(Math.min(1 - 1e-7, Math.max(-1 + 1e-7, cosine)))
}
