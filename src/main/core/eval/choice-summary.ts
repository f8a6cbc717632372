import { chanceLevels, choiceMetrics, type ChanceLevels } from './choice-metrics.ts'
import type { EncodedChoiceItem } from './choice-scorer.ts'
import { accuracyEstimate, bootstrapMean, type Estimate } from './intervals.ts'

/**
 * A multiple-choice result as reported: per-item scores and verdicts (kept for shift tables and bootstraps),
 * MC1 with a Wilson interval, MC2 and MC3 means with seeded bootstrap intervals, and the set's chance levels.
 */

/** Scores and verdicts of one item. */
export interface ChoiceItemResult {
  id: string
  /** Σ log p of each choice's tokens given the prompt. */
  scores: number[]
  mc1: boolean
  mc2: number
  mc3: number
}

/** Everything reported about one item set under one model or strength. */
export interface ChoiceSummary {
  items: ChoiceItemResult[]
  mc1: Estimate
  mc2: Estimate
  mc3: Estimate
  chance: ChanceLevels
}

/** Summarise `scores[item][choice]` of `items`; `seed` fixes the bootstrap (default 0). */
export function summarizeChoices(
  items: readonly Pick<EncodedChoiceItem, 'id' | 'choices' | 'correct'>[],
  scores: readonly (readonly number[])[],
  seed = 0,
): ChoiceSummary {
  const results = items.map((item, index) => {
    const itemScores = [...(scores[index] ?? [])]
    return { id: item.id, scores: itemScores, ...choiceMetrics(itemScores, item.correct) }
  })
  return {
    items: results,
    mc1: accuracyEstimate(results.map((result) => result.mc1)),
    mc2: bootstrapMean(
      results.map((result) => result.mc2),
      { seed },
    ),
    mc3: bootstrapMean(
      results.map((result) => result.mc3),
      { seed: seed + 1 },
    ),
    chance: chanceLevels(items),
  }
}
