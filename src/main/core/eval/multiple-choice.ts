import { TillerError } from '../errors.ts'
import { choiceMetrics } from './choice-metrics.ts'
import type { EncodedChoiceItem } from './choice-scorer.ts'
import type { ChoiceItemResult } from './choice-summary.ts'
import type { ForwardLogits } from './forward-logits.ts'
import { scoreContinuations, type ScoringOptions } from './log-likelihood.ts'

export type { EncodedChoiceItem } from './choice-scorer.ts'
export type { ChoiceItemResult } from './choice-summary.ts'

/** Results of a multiple-choice evaluation. */
export interface MultipleChoiceResult {
  items: ChoiceItemResult[]
  /** Share of items with mc1 true. */
  mc1Accuracy: number
  /** Mean mc2. */
  mc2Mean: number
  /** Mean mc3. */
  mc3Mean: number
}

/**
 * Score every choice of every item, each as its own row (prompt + choice), and compute MC1, MC2 and MC3 per item
 * (METHODS §9.1) and their means. All choices of all items go through `forward` in batches. The reference path:
 * `cachedChoiceScorer` reuses the prompt's cache instead and is tested against this.
 */
export async function evaluateMultipleChoice(
  forward: ForwardLogits,
  items: readonly EncodedChoiceItem[],
  options: ScoringOptions = {},
): Promise<MultipleChoiceResult> {
  for (const item of items) {
    const wrong = item.choices.length - item.correct.length
    if (
      item.correct.length === 0 ||
      wrong <= 0 ||
      item.correct.some((index) => item.choices[index] === undefined)
    ) {
      throw new TillerError(
        'invalid-argument',
        `Multiple-choice item ${item.id} needs at least one right and one wrong choice; correct lists ${JSON.stringify(item.correct)} of ${item.choices.length} choices.`,
        { subject: item.id },
      )
    }
  }
  const requests = items.flatMap((item) =>
    item.choices.map((continuation) => ({ context: item.prompt, continuation })),
  )
  const scored = await scoreContinuations(forward, requests, options)
  let cursor = 0
  const results = items.map((item) => {
    const scores = item.choices.map(() => scored[cursor++]?.logProbability ?? Number.NaN)
    return { id: item.id, scores, ...choiceMetrics(scores, item.correct) }
  })
  const count = Math.max(1, results.length)
  const mean = (value: (result: ChoiceItemResult) => number): number =>
    results.reduce((sum, result) => sum + value(result), 0) / count
  return {
    items: results,
    mc1Accuracy: mean((result) => (result.mc1 ? 1 : 0)),
    mc2Mean: mean((result) => result.mc2),
    mc3Mean: mean((result) => result.mc3),
  }
}
