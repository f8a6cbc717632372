import { TillerError } from '../errors.ts'

/**
 * Behaviour shift rates (METHODS §9.3, HPR Table 3): per item, base MC1 correctness against edited MC1
 * correctness. The four shares sum to 1; edited accuracy = False→True + Remains True.
 */

/** Shares of items in each cell, and the shift rate. */
export interface ShiftTable {
  items: number
  falseToTrue: number
  trueToFalse: number
  remainsTrue: number
  remainsFalse: number
  /** False→True + True→False. */
  shiftRate: number
}

/** Shift table of per-item verdicts in the same item order (`base[i]` and `edited[i]` are the same item). */
export function shiftTable(base: readonly boolean[], edited: readonly boolean[]): ShiftTable {
  if (base.length !== edited.length) {
    throw new TillerError(
      'invalid-argument',
      `Shift table needs the same items on both sides; got ${base.length} base and ${edited.length} edited verdicts.`,
    )
  }
  const counts = { falseToTrue: 0, trueToFalse: 0, remainsTrue: 0, remainsFalse: 0 }
  base.forEach((before, index) => {
    const after = edited[index] as boolean
    if (before && after) counts.remainsTrue++
    else if (before) counts.trueToFalse++
    else if (after) counts.falseToTrue++
    else counts.remainsFalse++
  })
  const total = base.length
  const share = (count: number): number => (total === 0 ? Number.NaN : count / total)
  return {
    items: total,
    falseToTrue: share(counts.falseToTrue),
    trueToFalse: share(counts.trueToFalse),
    remainsTrue: share(counts.remainsTrue),
    remainsFalse: share(counts.remainsFalse),
    shiftRate: share(counts.falseToTrue + counts.trueToFalse),
  }
}
