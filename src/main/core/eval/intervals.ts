import { TillerError } from '../errors.ts'
import { Random } from '../runtime/random.ts'

/**
 * 95 % intervals for the numbers an evaluation reports: Wilson score intervals for accuracies (a share of items
 * right), a seeded percentile bootstrap for means of per-item values such as MC2 mass.
 */

/** A point estimate with its 95 % interval. */
export interface Estimate {
  value: number
  low: number
  high: number
}

/** The two-sided 97.5 % normal quantile. */
const z95 = 1.959963984540054

/** Wilson score interval (95 %) of `successes` out of `total`; total 0 gives NaN throughout. */
export function wilsonInterval(successes: number, total: number): Estimate {
  if (!Number.isInteger(successes) || !Number.isInteger(total) || successes < 0 || successes > total) {
    throw new TillerError(
      'invalid-argument',
      `Wilson interval needs whole counts with 0 ≤ successes ≤ total; got ${successes} of ${total}.`,
    )
  }
  if (total === 0) return { value: Number.NaN, low: Number.NaN, high: Number.NaN }
  const share = successes / total
  const zSquared = z95 * z95
  const denominator = 1 + zSquared / total
  const centre = (share + zSquared / (2 * total)) / denominator
  const half = (z95 * Math.sqrt((share * (1 - share)) / total + zSquared / (4 * total * total))) / denominator
  // At 0 or all successes the interval touches the bound exactly (rounding would leave it a hair inside).
  return {
    value: share,
    low: successes === 0 ? 0 : Math.max(0, centre - half),
    high: successes === total ? 1 : Math.min(1, centre + half),
  }
}

/** Share of true values with its Wilson interval. */
export function accuracyEstimate(verdicts: readonly boolean[]): Estimate {
  return wilsonInterval(verdicts.filter(Boolean).length, verdicts.length)
}

/** How the bootstrap resamples. */
export interface BootstrapOptions {
  /** Resamples (default 2000). */
  resamples?: number
  /** Seed of the resampling (default 0): the same values and seed give the same interval. */
  seed?: number
}

function mean(values: ArrayLike<number>): number {
  let total = 0
  for (let index = 0; index < values.length; index++) total += values[index] as number
  return total / values.length
}

/** Linear interpolation between order statistics of ascending `sorted` at quantile `q`. */
function quantile(sorted: Float64Array, q: number): number {
  const position = q * (sorted.length - 1)
  const below = Math.floor(position)
  const above = Math.min(sorted.length - 1, below + 1)
  const weight = position - below
  return (sorted[below] as number) * (1 - weight) + (sorted[above] as number) * weight
}

/**
 * Mean of `values` with a 95 % percentile-bootstrap interval: `resamples` means of `values.length` draws with
 * replacement, the interval being their 2.5th and 97.5th percentiles. Empty input gives NaN throughout.
 */
export function bootstrapMean(values: readonly number[], options: BootstrapOptions = {}): Estimate {
  if (values.length === 0) return { value: Number.NaN, low: Number.NaN, high: Number.NaN }
  if (!values.every(Number.isFinite)) {
    throw new TillerError('invalid-argument', 'Bootstrap values must be finite numbers.')
  }
  const resamples = options.resamples ?? 2000
  const random = new Random(options.seed ?? 0)
  const means = new Float64Array(resamples)
  const draw = new Float64Array(values.length)
  for (let resample = 0; resample < resamples; resample++) {
    for (let index = 0; index < values.length; index++)
      draw[index] = values[Math.floor(random.next() * values.length)] as number
    means[resample] = mean(draw)
  }
  means.sort()
  return { value: mean(values), low: quantile(means, 0.025), high: quantile(means, 0.975) }
}
