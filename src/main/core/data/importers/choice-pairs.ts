import type { ChoiceRow, DemonstrationSet, PairRow } from '../schema.ts'

/**
 * Demonstration pairs from multiple-choice items, so pair methods (CAA, mean difference, …) fit on MC sets: the
 * question is the prompt, the first right choice the positive, and a wrong choice the negative — every wrong
 * choice (`each`, one pair per wrong choice) or the first one (`first`). Splits and tags carry over.
 */

/** Which wrong choices become negatives. */
export type NegativeChoice = 'each' | 'first'

/** Pairs of `items`; ids are `<item id>-<k>` with k counting the item's wrong choices from 1. */
export function pairsFromChoiceRows(
  items: readonly ChoiceRow[],
  negatives: NegativeChoice = 'each',
): PairRow[] {
  const pairs: PairRow[] = []
  for (const item of items) {
    const positive = item.choices[item.correct[0] as number] as string
    const right = new Set(item.correct)
    const wrong = item.choices.filter((_, index) => !right.has(index))
    const chosen = negatives === 'each' ? wrong : wrong.slice(0, 1)
    chosen.forEach((negative, index) => {
      const pair: PairRow = {
        id: `${item.id}-${index + 1}`,
        line: item.line,
        prompt: item.question,
        positive,
        negative,
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
): DemonstrationSet {
  return { kind: 'pairs', source: `${set.source}#pairs`, rows: pairsFromChoiceRows(set.rows, negatives) }
}
