import type { ChoiceRow, DemonstrationSet, PairRow } from '../schema.ts'

/**
 * Demonstration pairs from multiple-choice items, so pair methods fit on MC sets. `plain`: the question is the
 * prompt, the first right choice the positive, and a wrong choice the negative. `ab` (CAA's format): the prompt
 * lists the choices as "(A) …", "(B) …" under the question, and the sides are the letters, "(A)" vs "(B)". The
 * negative is every wrong choice (`each`, one pair per wrong choice) or the first one (`first`). Splits and tags
 * carry over.
 */

/** How a pair presents the choices. */
export type PairFormat = 'plain' | 'ab'

/** Which wrong choices become negatives. */
export type NegativeChoice = 'each' | 'first'

/** Pairs of `items`; ids are `<item id>-<k>` with k counting the item's wrong choices from 1. */
export function pairsFromChoiceRows(
  items: readonly ChoiceRow[],
  negatives: NegativeChoice = 'each',
  format: PairFormat = 'plain',
): PairRow[] {
  const pairs: PairRow[] = []
  const letter = (index: number): string => `(${String.fromCharCode(65 + index)})`
  for (const item of items) {
    const first = item.correct[0] as number
    const right = new Set(item.correct)
    const wrong = item.choices.map((_, index) => index).filter((index) => !right.has(index))
    const chosen = negatives === 'each' ? wrong : wrong.slice(0, 1)
    const side = (index: number): string =>
      format === 'ab' ? letter(index) : (item.choices[index] as string)
    const prompt =
      format === 'ab'
        ? `${item.question}\n\n${item.choices.map((choice, index) => `${letter(index)} ${choice}`).join('\n')}`
        : item.question
    chosen.forEach((negative, index) => {
      const pair: PairRow = {
        id: `${item.id}-${index + 1}`,
        line: item.line,
        prompt,
        positive: side(first),
        negative: side(negative),
      }
      if (item.split !== undefined) pair.split = item.split
      if (item.tags !== undefined) pair.tags = [...item.tags]
      pairs.push(pair)
    })
  }
  return pairs
}

/** A pairs set from a choices set (the source name gains `#pairs`). */
export function pairsFromChoices(
  set: Extract<DemonstrationSet, { kind: 'choices' }>,
  negatives: NegativeChoice = 'each',
  format: PairFormat = 'plain',
): DemonstrationSet {
  return {
    kind: 'pairs',
    source: `${set.source}#pairs`,
    rows: pairsFromChoiceRows(set.rows, negatives, format),
  }
}
