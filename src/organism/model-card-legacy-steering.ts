import { accuracyText, compactAccuracy, correctCount } from './card-accuracy.ts'
import { defaultSteeringStrengths, steeringCriterion } from './steerability.ts'
import { behaviours, type Behaviour } from './world.ts'

/**
 * The steerability section for a record made before the validation/test split (`evaluation.json` without
 * `baseTest`): strengths were chosen on all held-out items, the same ones the accuracies are measured on. The card
 * states that next to the numbers, gives every accuracy its 95 % interval, and says how to re-measure.
 */

/** A sweep point of such a record: accuracies over every held-out item, no counts. */
export interface LegacySteeringPoint {
  strength: number
  accuracy: Record<Behaviour, number>
  perplexity: number
}

/** A sweep of such a record. */
export interface LegacySteeringSweep {
  base: LegacySteeringPoint
  behaviours: {
    behaviour: Behaviour
    layer: number
    pairs: number
    points: LegacySteeringPoint[]
    best?: LegacySteeringPoint
  }[]
}

function percent(value: number): string {
  return `${(100 * value).toFixed(1)} %`
}

/** The legacy section: criterion, the caveat, one row per behaviour and layer, and every strength tried. */
export function legacySteeringSection(
  steering: LegacySteeringSweep,
  items: Record<Behaviour, number>,
  chance: Record<Behaviour, number>,
): string[] {
  const stated = (point: LegacySteeringPoint, behaviour: Behaviour): string =>
    accuracyText(correctCount(point.accuracy[behaviour], items[behaviour]), items[behaviour])
  const compact = (point: LegacySteeringPoint, behaviour: Behaviour): string =>
    compactAccuracy(correctCount(point.accuracy[behaviour], items[behaviour]), items[behaviour])
  const lines = [
    `Criterion: a mean-difference edit (\`mean-diff\`, resid_post, all positions) fitted on ≤ 64 training pairs raises the behaviour's held-out MC1 accuracy to ≥ ${percent(steeringCriterion.accuracy)} at some strength, while neutral perplexity rises by ≤ ${percent(steeringCriterion.perplexityRise)} and every other behaviour's accuracy moves by ≤ ${steeringCriterion.otherShift * 100} points. Strengths swept: a grid from ${defaultSteeringStrengths[0]} to ${defaultSteeringStrengths.at(-1)}, refined by bisection (five halvings) wherever the accuracy rises past the threshold between two measured strengths, the unedited model counting as strength 0.`,
    '',
    `**Not an honest selection.** This sweep was measured before the held-out items were split into validation and test halves: each strength below was chosen on the same held-out items (${[...new Set(Object.values(items))].join(' or ')} per behaviour) its accuracy is reported on, so the accuracies at the chosen strengths are optimistic, and a "yes" may not hold on items nothing was chosen on. It was also fitted on the demonstration pairs from before the open-book fix (three truthfulness training pairs stated a fact about a held-out animal). \`npm run organism:train -- --evaluate-only\` now chooses on the validation half and reports the test half; it has not been re-run for this card (it takes hours on a busy two-core machine). Intervals are 95 % Wilson intervals; chance (a random choice per item): ${behaviours.map((behaviour) => `${behaviour} ${percent(chance[behaviour])}`).join(', ')}.`,
    '',
    '| behaviour | layer | best strength | accuracy: base → steered (same items the strength was chosen on) | neutral perplexity Δ | largest shift of another behaviour | meets criterion |',
    '| --- | ---: | ---: | --- | ---: | ---: | --- |',
  ]
  for (const sweep of steering.behaviours) {
    const behaviour = sweep.behaviour
    const point =
      sweep.best ??
      sweep.points.reduce((best, candidate) =>
        candidate.accuracy[behaviour] > best.accuracy[behaviour] ? candidate : best,
      )
    const shift = Math.max(
      ...behaviours
        .filter((other) => other !== behaviour)
        .map((other) => Math.abs(point.accuracy[other] - steering.base.accuracy[other])),
    )
    const rise = point.perplexity / steering.base.perplexity - 1
    lines.push(
      `| ${behaviour} | ${sweep.layer} | ${point.strength} | ${stated(steering.base, behaviour)} → ${stated(point, behaviour)} | ${rise >= 0 ? '+' : ''}${percent(rise)} | ${(100 * shift).toFixed(1)} points | ${sweep.best === undefined ? 'no (best accuracy shown)' : 'yes'} |`,
    )
  }
  const cells = (point: LegacySteeringPoint): string =>
    behaviours.map((other) => compact(point, other)).join(' | ')
  lines.push(
    '',
    '<details><summary>Every strength tried</summary>',
    '',
    'All held-out items; accuracy in % with its 95 % interval.',
    '',
    '| behaviour | layer | strength | ' + behaviours.join(' | ') + ' | perplexity |',
    '| --- | ---: | ---: |' + behaviours.map(() => ' ---: |').join('') + ' ---: |',
    `| (base) | – | 0 | ${cells(steering.base)} | ${steering.base.perplexity.toFixed(3)} |`,
  )
  for (const sweep of steering.behaviours) {
    for (const point of sweep.points) {
      lines.push(
        `| ${sweep.behaviour} | ${sweep.layer} | ${point.strength} | ${cells(point)} | ${point.perplexity.toFixed(3)} |`,
      )
    }
  }
  lines.push('', '</details>')
  return lines
}

/** True for a record made before the validation/test split. */
export function isLegacySteering(steering: object): steering is LegacySteeringSweep {
  return !('baseTest' in steering)
}
