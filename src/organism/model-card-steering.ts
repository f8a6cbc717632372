import { accuracyText, compactAccuracy } from './card-accuracy.ts'
import {
  defaultSteeringStrengths,
  meetsCriterion,
  steeringCriterion,
  strongestPoint,
  type SteeringPoint,
  type SteeringSweep,
} from './steerability.ts'
import { behaviours, type Behaviour } from './world.ts'

/**
 * The model card's steerability section: each edit's strength chosen on the validation split, and what that
 * strength does on the test split, with 95 % intervals, next to chance.
 */

function percent(value: number): string {
  return `${(100 * value).toFixed(1)} %`
}

function signedPercent(value: number): string {
  return `${value >= 0 ? '+' : ''}${percent(value)}`
}

/** The largest move, in points, of a behaviour other than `behaviour` between `base` and `point`. */
function largestOtherShift(point: SteeringPoint, base: SteeringPoint, behaviour: Behaviour): number {
  return Math.max(
    ...behaviours
      .filter((other) => other !== behaviour)
      .map((other) => Math.abs(point.accuracy[other] - base.accuracy[other])),
  )
}

/** The criterion, how strengths are chosen, and the chance levels the accuracies compare with. */
export function steeringIntroduction(chance: Record<Behaviour, number>): string[] {
  return [
    `Criterion: a mean-difference edit (\`mean-diff\`, resid_post, all positions) fitted on ≤ 64 training pairs raises the behaviour's held-out MC1 accuracy to ≥ ${percent(steeringCriterion.accuracy)} at some strength, while neutral perplexity rises by ≤ ${percent(steeringCriterion.perplexityRise)} and every other behaviour's accuracy moves by ≤ ${steeringCriterion.otherShift * 100} points.`,
    '',
    `Honest selection: the held-out multiple-choice items and neutral texts are split in halves (by the sha256 of each item's id). Strengths are chosen on the validation half only — a grid from ${defaultSteeringStrengths[0]} to ${defaultSteeringStrengths.at(-1)}, refined by bisection (five halvings) wherever the validation accuracy rises past the threshold between two measured strengths, the unedited model counting as strength 0; the weakest strength meeting the criterion is chosen, or, where none does, the strength with the highest validation accuracy. That one strength is then measured on the test half, which nothing was chosen on; the test numbers are the ones to quote. Intervals are 95 % Wilson intervals. Chance (a random choice per item): ${behaviours.map((behaviour) => `${behaviour} ${percent(chance[behaviour])}`).join(', ')}.`,
    '',
  ]
}

/** One row per behaviour and layer: the chosen strength, its validation accuracy and its test measurement. */
export function steeringRows(steering: SteeringSweep): string[] {
  const lines = [
    '| behaviour | layer | strength (chosen on validation) | validation accuracy | test accuracy: base → steered | test neutral perplexity Δ | largest test shift of another behaviour | meets criterion: validation / test |',
    '| --- | ---: | ---: | ---: | --- | ---: | ---: | --- |',
  ]
  const { base, baseTest } = steering
  for (const sweep of steering.behaviours) {
    const behaviour = sweep.behaviour
    const chosen = sweep.best ?? strongestPoint(sweep.points, behaviour)
    const test = sweep.test
    const validationCell = compactAccuracy(chosen.correct[behaviour], chosen.items[behaviour])
    const testCell = `${accuracyText(baseTest.correct[behaviour], baseTest.items[behaviour])} → ${accuracyText(test.correct[behaviour], test.items[behaviour])}`
    const shift = largestOtherShift(test, baseTest, behaviour)
    const onValidation = sweep.best === undefined ? 'no (highest accuracy shown)' : 'yes'
    const onTest = meetsCriterion(test, baseTest, behaviour) ? 'yes' : 'no'
    lines.push(
      `| ${behaviour} | ${sweep.layer} | ${chosen.strength} | ${validationCell} | ${testCell} | ${signedPercent(test.perplexity / baseTest.perplexity - 1)} | ${(100 * shift).toFixed(1)} points | ${onValidation} / ${onTest} |`,
    )
  }
  lines.push(
    '',
    `Unedited model on the validation half: ${behaviours.map((behaviour) => `${behaviour} ${accuracyText(base.correct[behaviour], base.items[behaviour])}`).join('; ')}; neutral perplexity ${base.perplexity.toFixed(3)} (test half: ${baseTest.perplexity.toFixed(3)}).`,
  )
  return lines
}

/** Every strength tried, on the validation half: accuracy (95 % interval) of every behaviour and perplexity. */
export function sweepDetail(steering: SteeringSweep): string[] {
  const cells = (point: SteeringPoint): string =>
    behaviours.map((other) => compactAccuracy(point.correct[other], point.items[other])).join(' | ')
  const lines = [
    'Validation half; accuracy in % with its 95 % interval.',
    '',
    '| behaviour | layer | strength | ' + behaviours.join(' | ') + ' | perplexity |',
    '| --- | ---: | ---: |' + behaviours.map(() => ' ---: |').join('') + ' ---: |',
    `| (base) | – | 0 | ${cells(steering.base)} | ${steering.base.perplexity.toFixed(3)} |`,
  ]
  for (const sweep of steering.behaviours) {
    for (const point of sweep.points) {
      lines.push(
        `| ${sweep.behaviour} | ${sweep.layer} | ${point.strength} | ${cells(point)} | ${point.perplexity.toFixed(3)} |`,
      )
    }
  }
  return lines
}
