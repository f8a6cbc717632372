import { createHash } from 'node:crypto'
import type { Split } from './schema.ts'

/**
 * Deterministic splits by id: rows ranked by the sha256 of their id fill the splits in order (train, validation,
 * test) by share. The assignment depends on the ids alone, so regenerating or reordering a set keeps every row's
 * split, and drawing or importing rows consumes no randomness.
 */

/** Share of rows per split; shares of absent splits are 0. */
export type SplitShares = Partial<Record<Split, number>>

/** Half validation, half test: the evaluation sets of the organism. */
export const validationTestHalves: SplitShares = { validation: 0.5, test: 0.5 }

/** HPR's TruthfulQA split (40 % train, 10 % validation, 50 % test; METHODS §9.1). */
export const trainValidationTest: SplitShares = { train: 0.4, validation: 0.1, test: 0.5 }

function idHash(id: string): string {
  return createHash('sha256').update(id, 'utf8').digest('hex')
}

/**
 * `items` in their order, each with a `split`. Every split but the last present one gets ⌊share·n⌋ rows (the
 * smallest hashes first); the last takes the rest.
 */
export function splitByIdHash<Item extends { id: string }>(
  items: readonly Item[],
  shares: SplitShares = validationTestHalves,
): (Item & { split: Split })[] {
  const order = (['train', 'validation', 'test'] as const).filter((split) => (shares[split] ?? 0) > 0)
  const ranked = [...items].sort((first, second) => (idHash(first.id) < idHash(second.id) ? -1 : 1))
  const assigned = new Map<string, Split>()
  let cursor = 0
  order.forEach((split, index) => {
    const count =
      index === order.length - 1 ? ranked.length - cursor : Math.floor((shares[split] ?? 0) * items.length)
    for (const item of ranked.slice(cursor, cursor + count)) assigned.set(item.id, split)
    cursor += count
  })
  return items.map((item) => ({ ...item, split: assigned.get(item.id) as Split }))
}
