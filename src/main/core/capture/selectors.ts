import type { PositionSelector } from '../../../shared/activations.ts'
import type { RenderedExample, RenderedSequence } from '../data/render.ts'
import { TillerError } from '../errors.ts'

/**
 * Which token positions of a rendered pair each selector reads (METHODS.md §0.2, `ActivationSet`). A pooled
 * selector gives one group of positions per side, averaged into one row; a per-token selector gives one row per
 * position, paired by position across the two sides (the longer side's extra tokens are dropped).
 */

/** Token indices (into the side's own token ids) per output row: each row averages its indices. */
export interface SideSelection {
  rows: number[][]
}

/** The rows one pair contributes to each side; both sides have the same row count. */
export interface PairSelection {
  positive: SideSelection
  negative: SideSelection
}

function range(start: number, end: number): number[] {
  return Array.from({ length: Math.max(0, end - start) }, (_, offset) => start + offset)
}

function fail(example: RenderedExample, side: string, problem: string): TillerError {
  return new TillerError('invalid-argument', `Example "${example.id}" (${side} side): ${problem}.`, {
    subject: example.id,
  })
}

function pooled(
  selector: PositionSelector,
  sequence: RenderedSequence,
  example: RenderedExample,
  side: string,
): number[] {
  const length = sequence.tokenIds.length
  switch (selector) {
    case 'last':
      return [length - 1]
    case 'lastPrompt':
      return [sequence.lastPromptToken]
    case 'answerLetter':
      if (sequence.answerLetter === undefined) {
        throw fail(
          example,
          side,
          'has no answer-letter token; render A/B completions such as "(A)" for this selector',
        )
      }
      return [sequence.answerLetter]
    case 'completionMean':
      if (sequence.completion.end <= sequence.completion.start) {
        throw fail(
          example,
          side,
          'has an empty completion; completionMean needs the contrast in the assistant turn',
        )
      }
      return range(sequence.completion.start, sequence.completion.end)
    case 'fromAssistantStart':
      if (sequence.assistantStart >= length)
        throw fail(example, side, 'has no tokens after the assistant start')
      return range(sequence.assistantStart, length)
    case 'completionTokens':
    case 'promptTokens':
      throw new TillerError('internal', `${selector} is a per-token selector`)
  }
}

function perToken(selector: PositionSelector, sequence: RenderedSequence): number[] {
  const span = selector === 'completionTokens' ? sequence.completion : sequence.prompt
  return range(span.start, span.end)
}

/** The positions `selector` reads from both sides of `example`. */
export function selectPositions(selector: PositionSelector, example: RenderedExample): PairSelection {
  if (selector === 'completionTokens' || selector === 'promptTokens') {
    const positive = perToken(selector, example.positive)
    const negative = perToken(selector, example.negative)
    const count = Math.min(positive.length, negative.length)
    if (count === 0) throw fail(example, 'both', `${selector} found no tokens to pair`)
    return {
      positive: { rows: positive.slice(0, count).map((index) => [index]) },
      negative: { rows: negative.slice(0, count).map((index) => [index]) },
    }
  }
  return {
    positive: { rows: [pooled(selector, example.positive, example, 'positive')] },
    negative: { rows: [pooled(selector, example.negative, example, 'negative')] },
  }
}

/** Whether the selector yields one row per token (then `ActivationSet.rowsPerPair` is set). */
export function isPerToken(selector: PositionSelector): boolean {
  return selector === 'completionTokens' || selector === 'promptTokens'
}
