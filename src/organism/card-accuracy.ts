import { wilsonInterval } from '../main/core/eval/intervals.ts'

/**
 * How the model card states an accuracy: the count, the share and its 95 % Wilson interval, since 60 or 120 items
 * leave a wide interval (108 of 120 is 83–94 %).
 */

/**
 * The items right behind an accuracy measured on `total` items. Accuracies are shares of whole items, so the
 * product is an integer up to rounding; anything else means the record and the item count disagree.
 */
export function correctCount(accuracy: number, total: number): number {
  const count = Math.round(accuracy * total)
  if (!Number.isFinite(accuracy) || Math.abs(count - accuracy * total) > 1e-6) {
    throw new RangeError(`accuracy ${accuracy} is not a share of ${total} items`)
  }
  return count
}

function share(value: number, digits: number): string {
  return (100 * value).toFixed(digits)
}

/** "108 of 120: 90.0 % (83.3–94.2 %)". */
export function accuracyText(correct: number, total: number): string {
  const estimate = wilsonInterval(correct, total)
  return `${correct} of ${total}: ${share(estimate.value, 1)} % (${share(estimate.low, 1)}–${share(estimate.high, 1)} %)`
}

/** "90.0 (83–94)": the share in percent with its interval in whole percent, for wide tables. */
export function compactAccuracy(correct: number, total: number): string {
  const estimate = wilsonInterval(correct, total)
  return `${share(estimate.value, 1)} (${share(estimate.low, 0)}–${share(estimate.high, 0)})`
}
