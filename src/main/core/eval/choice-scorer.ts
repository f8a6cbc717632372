import { TillerError } from '../errors.ts'
import type { RowLogits } from './forward-logits.ts'
import { logSoftmaxAt } from './log-softmax.ts'

/**
 * Scoring every choice of multiple-choice items at several edit strengths at once. A choice's score is
 * Σ log p(choice tokens | prompt) (METHODS §9.1, no length normalisation).
 */

/** A multiple-choice item as token ids: the rendered prompt and each choice's continuation tokens. */
export interface EncodedChoiceItem {
  id: string
  prompt: number[]
  choices: number[][]
  /** Indices of the right choices. */
  correct: number[]
}

/** Scores of every item at every strength: `[item][strength][choice]`. */
export type ChoiceScorer = (
  items: readonly EncodedChoiceItem[],
  strengths: readonly number[],
) => Promise<number[][][]>

/**
 * Logits of token rows where row b runs at edit strength `strengths[b]` (a steered graph's `tiller_strength`);
 * `assistantStarts[b]` is the token index where the row's answer starts (for answer-only position policies), and
 * `promptLengths[b]` (default the whole row) where its prompt ends (for last-prompt-token policies).
 */
export type StrengthForward = (
  rows: number[][],
  strengths: number[],
  assistantStarts: number[],
  promptLengths?: readonly number[],
) => Promise<RowLogits>

/** Σ log p of `continuation` given the tokens before it, read from `row` of a batch (row tokens left padded). */
export function continuationLogProbability(
  result: RowLogits,
  row: number,
  contextLength: number,
  continuation: readonly number[],
  scratch: Float64Array,
): number {
  const padding = result.leftPadding[row] ?? 0
  let total = 0
  continuation.forEach((token, index) => {
    // The logits at the position before a token predict it.
    const column = padding + contextLength + index - 1
    const offset = (row * result.sequence + column) * result.vocab
    total += logSoftmaxAt(result.logits, offset, result.vocab, scratch)[token] as number
  })
  return total
}

/**
 * A scorer over a forward that takes whole rows: each choice at each strength is one row (prompt + choice), and
 * the rows of consecutive items fill batches of up to `batchRows` (an item's rows are never split, so every
 * item's choices and strengths share one forward call).
 */
export function rowChoiceScorer(
  forward: StrengthForward,
  options: { batchRows?: number } = {},
): ChoiceScorer {
  const batchRows = options.batchRows ?? 32
  return async (items, strengths) => {
    const scores: number[][][] = []
    let start = 0
    while (start < items.length) {
      let end = start
      let rows = 0
      while (end < items.length && (end === start || rows + rowCount(items[end]!, strengths) <= batchRows)) {
        rows += rowCount(items[end]!, strengths)
        end++
      }
      const slice = items.slice(start, end)
      const tokenRows: number[][] = []
      const rowStrengths: number[] = []
      const assistantStarts: number[] = []
      for (const item of slice) {
        for (const strength of strengths) {
          for (const choice of item.choices) {
            tokenRows.push([...item.prompt, ...choice])
            rowStrengths.push(strength)
            assistantStarts.push(item.prompt.length)
          }
        }
      }
      // The prompt ends where the answer starts: last-prompt-token edits act where the cached scorer puts them.
      const result = await forward(tokenRows, rowStrengths, assistantStarts, assistantStarts)
      const scratch = new Float64Array(result.vocab)
      let row = 0
      for (const item of slice) {
        scores.push(
          strengths.map(() =>
            item.choices.map((choice) =>
              continuationLogProbability(result, row++, item.prompt.length, choice, scratch),
            ),
          ),
        )
      }
      start = end
    }
    return scores
  }
}

function rowCount(item: EncodedChoiceItem, strengths: readonly number[]): number {
  return item.choices.length * strengths.length
}

/** Refuse items the scorers cannot score: no prompt token, an empty choice, or a right index out of range. */
export function checkEncodedItems(items: readonly EncodedChoiceItem[]): void {
  for (const item of items) {
    const empty = item.choices.findIndex((choice) => choice.length === 0)
    if (item.prompt.length === 0 || empty >= 0) {
      throw new TillerError(
        'invalid-argument',
        `Item ${item.id}: ${item.prompt.length === 0 ? 'the prompt' : `choice ${empty}`} encodes to no tokens.`,
        { subject: item.id },
      )
    }
  }
}
