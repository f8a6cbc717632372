import { TillerError } from '../errors.ts'
import type { ForwardLogits } from './forward-logits.ts'
import { scoreContinuations, type ScoringOptions } from './log-likelihood.ts'

/** A multiple-choice item as token ids: the rendered prompt and each choice's continuation tokens. */
export interface EncodedChoiceItem {
  id: string
  prompt: number[]
  choices: number[][]
  /** Indices of the right choices. */
  correct: number[]
}

/** Scores and verdicts of one item. */
export interface ChoiceItemResult {
  id: string
  /** Σ log p of each choice's tokens given the prompt. */
  scores: number[]
  /** MC1: the best right choice scores strictly above every wrong one. */
  mc1: boolean
  /** MC2: probability mass of the right choices among all choices (normalised over the choices only). */
  mc2: number
}

/** Results of a multiple-choice evaluation. */
export interface MultipleChoiceResult {
  items: ChoiceItemResult[]
  /** Share of items with mc1 true. */
  mc1Accuracy: number
  /** Mean mc2. */
  mc2Mean: number
}

function logSumExp(values: readonly number[]): number {
  const max = Math.max(...values)
  return max + Math.log(values.reduce((sum, value) => sum + Math.exp(value - max), 0))
}

/**
 * Score every choice of every item (sum of log p of the choice tokens given the prompt, METHODS §9.1) and compute
 * MC1 accuracy and MC2 mass. All choices of all items go through `forward` in batches.
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
    const right = scores.filter((_, index) => item.correct.includes(index))
    const wrong = scores.filter((_, index) => !item.correct.includes(index))
    const mc1 = Math.max(...right) > Math.max(...wrong)
    const mc2 = Math.exp(logSumExp(right) - logSumExp(scores))
    return { id: item.id, scores, mc1, mc2 }
  })
  const count = Math.max(1, results.length)
  return {
    items: results,
    mc1Accuracy: results.filter((result) => result.mc1).length / count,
    mc2Mean: results.reduce((sum, result) => sum + result.mc2, 0) / count,
  }
}
