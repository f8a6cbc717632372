/**
 * ActAdd — Activation Addition (Turner et al. 2023; METHODS.md §3).
 *
 * Fit: each prompt pair is tokenized raw with BOS, the shorter side right-padded with the space token, and
 * `resid_pre[l]` recorded at every position; the steering tensor is `S = c · (A⁺ − A⁻)` `[n, width]`, position-wise.
 * With several pairs, row t averages the pairs that reach position t. Runtime: `h_t ← h_t + α·S_t` for the first n
 * prompt positions during prefill only (front alignment, BOS on BOS); decode steps are not edited.
 * The BOS row is exactly zero because both sides share the BOS prefix.
 */
import { z } from 'zod'
import type { ActivationSet } from '../../../shared/activations.ts'
import { TillerError } from '../errors.ts'
import {
  checkActivations,
  layerAtFraction,
  layerMatrices,
  resolveLayers,
  singleCapturedLayer,
  singleLayerOption,
  type Method,
  type MethodFit,
} from './method.ts'

const optionsSchema = z.strictObject({
  /** One block; default scales the paper's layer 6 of GPT-2-XL's 48 blocks. */
  layers: singleLayerOption,
  /** c, baked into the vectors (paper: 5 for "Love" − "Hate"). */
  coefficient: z.number().finite(),
})
/** ActAdd options after parsing (defaults merged). */
export type ActAddOptions = z.infer<typeof optionsSchema>

const site = 'resid_pre'
const selector = 'promptTokens'

/**
 * Position-wise mean difference over pairs.
 * @param positive `[rows, width]`, rows grouped by pair per `rowsPerPair`
 * @returns `{ vectors: [count, width], count }`
 */
function positionwiseDifference(
  positive: Float32Array,
  negative: Float32Array,
  rowsPerPair: readonly number[],
  width: number,
): { vectors: Float64Array; count: number } {
  const count = Math.max(...rowsPerPair)
  const total = new Float64Array(count * width)
  const pairsAtPosition = new Float64Array(count)
  let row = 0
  for (const length of rowsPerPair) {
    for (let position = 0; position < length; position++, row++) {
      pairsAtPosition[position] = (pairsAtPosition[position] as number) + 1
      for (let column = 0; column < width; column++) {
        const index = position * width + column
        const difference =
          (positive[row * width + column] as number) - (negative[row * width + column] as number)
        total[index] = (total[index] as number) + difference
      }
    }
  }
  for (let position = 0; position < count; position++) {
    for (let column = 0; column < width; column++) {
      const index = position * width + column
      total[index] = (total[index] as number) / (pairsAtPosition[position] as number)
    }
  }
  return { vectors: total, count }
}

function fit(activations: ActivationSet, options: ActAddOptions): MethodFit {
  checkActivations(activations, 'actadd', { site, selector })
  const rowsPerPair = activations.rowsPerPair
  const layer = singleCapturedLayer(activations, 'actadd')
  if (rowsPerPair === undefined || rowsPerPair.reduce((a, b) => a + b, 0) !== activations.rows) {
    throw new TillerError(
      'shape-mismatch',
      'actadd needs per-token activations with rowsPerPair summing to rows.',
    )
  }
  const { positive, negative } = layerMatrices(activations, 0)
  const { vectors, count } = positionwiseDifference(positive, negative, rowsPerPair, activations.width)
  const steering = new Float32Array(vectors.length)
  for (let index = 0; index < vectors.length; index++)
    steering[index] = options.coefficient * (vectors[index] as number)
  return {
    interventions: [
      {
        layer,
        site,
        positions: { kind: 'promptPrefix', count },
        op: { kind: 'addAt', vectors: steering, count },
      },
    ],
    notes: [
      `steering tensor [${count}, ${activations.width}] at resid_pre[${layer}], c = ${options.coefficient}`,
    ],
  }
}

/** ActAdd: position-wise prompt-pair difference added to the first prompt positions at prefill. */
export const actAdd: Method<ActAddOptions> = {
  id: 'actadd',
  summary: 'ActAdd: position-wise difference of two prompts at resid_pre of one layer, added at prefill',
  optionsSchema,
  defaults: { layers: undefined, coefficient: 5 },
  strength: {
    description:
      'α scales c·(A⁺ − A⁻) added to the first n prompt positions at prefill; α = 0 is the base model',
    default: 1,
    testedRange: [0, 3],
  },
  capture: (options, layerCount) => ({
    site,
    selector,
    layers: resolveLayers(options.layers, [layerAtFraction(6 / 48, layerCount)], layerCount, 'actadd', true),
    render: { format: 'raw', padToEqualLength: true },
  }),
  fit,
}
