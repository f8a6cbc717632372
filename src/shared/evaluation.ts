/**
 * An evaluation run as the engine reports and saves it (`evaluation:run`, `runs/*.json` in the workspace): a
 * strength sweep on validation items, the strength chosen there, and the final numbers on test items, base vs
 * edited, with side effects on the other behaviours' item sets.
 */

/** A point estimate with its 95 % interval. */
export interface IntervalEstimate {
  value: number
  low: number
  high: number
}

/** One strength of the validation sweep. */
export interface SweepRow {
  strength: number
  /** MC1 accuracy (Wilson interval) and MC2 mass (bootstrap interval) on the validation items. */
  mc1: IntervalEstimate
  mc2: IntervalEstimate
  /** Token perplexity of the validation reference texts; null without reference texts. */
  perplexity: number | null
  /** Mean KL(base ‖ edited) per predicted token, nats; null without reference texts. */
  klFromBase: number | null
  /** Perplexity within the fluency limit of the base's (always true without reference texts). */
  fluent: boolean
}

/** Behaviour shift per item, base MC1 verdict against edited (shares of the items; they sum to 1). */
export interface ShiftShares {
  items: number
  falseToTrue: number
  trueToFalse: number
  remainsTrue: number
  remainsFalse: number
}

/** One side of the test comparison. */
export interface TestMeasurement {
  strength: number
  mc1: IntervalEstimate
  mc2: IntervalEstimate
  perplexity: number | null
  bitsPerByte: number | null
  /** Null for the base itself. */
  klFromBase: number | null
}

/** Another behaviour's test items, base vs edited at the chosen strength. */
export interface SideEffectRow {
  /** The item file's name without `.jsonl`, e.g. `politeness.mc`. */
  dataset: string
  behaviour: string
  items: number
  base: IntervalEstimate
  edited: IntervalEstimate
}

/** A finished evaluation. */
export interface EvaluationRun {
  /** File name stem under the workspace's `runs/`. */
  id: string
  /** ISO 8601. */
  created: string
  model: string
  edit: { id: string; label: string; method: string; layers: number[] }
  /** The multiple-choice file evaluated and its behaviour. */
  dataset: { path: string; name: string; behaviour: string }
  /** Chance levels of the item set (MC1 and MC2 alike: 1 / choices, averaged). */
  chance: { mc1: number; mc2: number; choiceCounts: number[] }
  /** Perplexity may grow by at most this share over the base's before a strength counts as breaking fluency. */
  fluencyLimit: number
  validation: { items: number; texts: number; sweep: SweepRow[] }
  chosenStrength: number
  /** One sentence: how the strength was chosen. */
  choiceReason: string
  test: {
    items: number
    texts: number
    base: TestMeasurement
    edited: TestMeasurement
    shift: ShiftShares
  }
  sideEffects: SideEffectRow[]
  /** Where the run was saved. */
  path: string
}

/** Perplexity over the base's by more than this share counts as breaking fluency (+10 %). */
export const defaultFluencyLimit = 0.1

/**
 * The strengths a sweep tries when none are given: seven evenly spaced over the method's tested range, plus 0,
 * rounded to three decimals, ascending.
 */
export function sweepStrengths(range: readonly [number, number], count = 7): number[] {
  const [low, high] = range
  const values = new Set<number>([0])
  for (let index = 0; index < count; index++) {
    const value = count === 1 ? high : low + ((high - low) * index) / (count - 1)
    values.add(Math.round(value * 1000) / 1000)
  }
  return [...values].sort((first, second) => first - second)
}

/** `evaluation:runs`'s answer: saved runs, newest first, and run files that could not be read. */
export interface EvaluationRunList {
  runs: EvaluationRun[]
  problems: string[]
}
