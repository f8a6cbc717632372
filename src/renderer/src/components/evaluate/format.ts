import type { IntervalEstimate } from '../../../../shared/evaluation.ts'

/** A share as a percentage with one decimal; a dash for a missing value. */
export function percent(value: number | null | undefined): string {
  return value === null || value === undefined || !Number.isFinite(value)
    ? '–'
    : `${(100 * value).toFixed(1)} %`
}

/** An estimate with its 95 % interval, in percent: "71.7 % [59.2, 81.5]". */
export function withInterval(estimate: IntervalEstimate): string {
  if (!Number.isFinite(estimate.value)) return '–'
  return `${(100 * estimate.value).toFixed(1)} % [${(100 * estimate.low).toFixed(1)}, ${(100 * estimate.high).toFixed(1)}]`
}

/** A number with `digits` decimals; a dash for a missing value. */
export function fixed(value: number | null | undefined, digits: number): string {
  return value === null || value === undefined || !Number.isFinite(value) ? '–' : value.toFixed(digits)
}

/** A signed difference in percentage points: "+12.5 pt". */
export function points(edited: number, base: number): string {
  const difference = 100 * (edited - base)
  return `${difference >= 0 ? '+' : '−'}${Math.abs(difference).toFixed(1)} pt`
}
