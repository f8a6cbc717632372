/**
 * SADI's mask (METHODS.md §6.2): the mean activation difference D = mean_i (A⁺_i − A⁻_i) per layer, reduced to one
 * score per unit (a head: the mean of its headDim differences; a neuron or hidden element: itself), and the top K
 * units over all layers jointly.
 */
import type { ActivationSet } from '../../../shared/activations.ts'

/** One scored unit: `unit` is a head index or an element index within the layer's row. */
export interface UnitScore {
  layerIndex: number
  unit: number
  score: number
}

/**
 * Scores of every unit, layer-major then unit order: per layer the pairs' mean difference `[width]` (float64),
 * averaged over consecutive groups of `unitWidth` columns (headDim for heads, 1 for elements).
 */
export function unitScores(activations: ActivationSet, unitWidth: number): UnitScore[] {
  const { rows, width } = activations
  const scores: UnitScore[] = []
  activations.layers.forEach((_, layerIndex) => {
    const positive = activations.positive[layerIndex] as Float32Array
    const negative = activations.negative[layerIndex] as Float32Array
    const difference = new Float64Array(width)
    for (let row = 0; row < rows; row++) {
      const offset = row * width
      for (let column = 0; column < width; column++) {
        difference[column] =
          (difference[column] as number) +
          ((positive[offset + column] as number) - (negative[offset + column] as number))
      }
    }
    for (let unit = 0; unit < width / unitWidth; unit++) {
      let total = 0
      for (let column = unit * unitWidth; column < (unit + 1) * unitWidth; column++)
        total += difference[column] as number
      scores.push({ layerIndex, unit, score: total / rows / unitWidth })
    }
  })
  return scores
}

/**
 * The top `count` units by `score` ('signed': largest positive differences, the released code; 'absolute':
 * largest magnitude). A stable sort keeps layer-major, unit order on ties, where the code's equality search could
 * pick one element twice.
 */
export function topUnits(
  scores: readonly UnitScore[],
  count: number,
  rank: 'signed' | 'absolute',
): UnitScore[] {
  const key =
    rank === 'signed' ? (entry: UnitScore) => entry.score : (entry: UnitScore) => Math.abs(entry.score)
  return [...scores].sort((first, second) => key(second) - key(first)).slice(0, count)
}
