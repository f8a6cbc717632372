import type { DemonstrationSet, PairRow } from '../main/core/data/schema.ts'
import { runtimeForward, type ForwardLogits } from '../main/core/eval/forward-logits.ts'
import { loadSteeredModel, steeringInputs } from '../main/core/edits/steered-generation.ts'
import { fitFromDemonstrations } from '../main/core/fitting/fit-pipeline.ts'
import type { LoadedModel } from '../main/core/runtime/model.ts'
import type { MultipleChoiceItem, OrganismDatasets } from './datasets.ts'
import { measureBehaviours, measureNeutralPerplexity, type TextEncoder } from './evaluation.ts'
import { behaviours, type Behaviour } from './world.ts'

/**
 * The organism as a benchmark: fit a mean-difference edit per behaviour on at most 64 training pairs, sweep its
 * strength, and measure the held-out accuracy of that behaviour, the other behaviours' accuracies and neutral
 * perplexity — the numbers of the issue's steerability criterion, all through Tiller's own fit, compile and
 * scoring path. Strengths are chosen on the validation items and validation neutral texts only; the chosen
 * strength is then measured once on the test items and test neutral texts, which nothing was chosen on, and those
 * are the numbers to report.
 */

/** Which half of the held-out items and neutral texts a point was measured on. */
export type EvaluationSplit = 'validation' | 'test'

/** Accuracies of every behaviour and neutral perplexity under one edit at one strength, on one split. */
export interface SteeringPoint {
  strength: number
  accuracy: Record<Behaviour, number>
  /** Items answered right (MC1) and items measured, per behaviour: the counts behind `accuracy`, for intervals. */
  correct: Record<Behaviour, number>
  items: Record<Behaviour, number>
  perplexity: number
}

/** One behaviour's sweep. */
export interface BehaviourSteering {
  behaviour: Behaviour
  layer: number
  pairs: number
  /** Every strength tried, measured on the validation split. */
  points: SteeringPoint[]
  /**
   * The weakest strength meeting the criterion on the validation split (accuracy ≥ 0.9, perplexity ≤ +10 %,
   * others within 5 points), or undefined.
   */
  best: SteeringPoint | undefined
  /**
   * The chosen strength (`best`, else the strength with the highest validation accuracy) measured on the test
   * split: what the model card reports.
   */
  test: SteeringPoint
}

/** The unedited model on both splits, and every behaviour's sweep. */
export interface SteeringSweep {
  /** The unedited model on the validation split (the baseline strengths are chosen against). */
  base: SteeringPoint
  /** The unedited model on the test split (the baseline reported numbers are compared with). */
  baseTest: SteeringPoint
  behaviours: BehaviourSteering[]
}

/** What `measureSteerability` sweeps. */
export interface SteerabilityOptions {
  /** Decoder blocks to try (one edit per block, each swept); default every block. */
  layers?: number[]
  strengths?: number[]
  /** Training pairs to fit on (at most 64 by the criterion); default 64. */
  pairs?: number
  onProgress?: (message: string) => void
}

/** The strengths the sweep tries before refining, ascending. */
export const defaultSteeringStrengths: readonly number[] = [0.5, 1, 1.5, 2, 2.5, 3, 3.5, 4, 5, 6, 8]

/** The criterion's thresholds. */
export const steeringCriterion = { accuracy: 0.9, perplexityRise: 0.1, otherShift: 0.05 } as const

async function measurePoint(
  forward: ForwardLogits,
  encoder: TextEncoder,
  datasets: OrganismDatasets,
  strength: number,
  split: EvaluationSplit,
): Promise<SteeringPoint> {
  const items = Object.fromEntries(
    behaviours.map((behaviour) => [
      behaviour,
      datasets.multipleChoice[behaviour].filter((item) => item.split === split),
    ]),
  ) as Record<Behaviour, MultipleChoiceItem[]>
  const results = await measureBehaviours(forward, encoder, items)
  const accuracy = {} as Record<Behaviour, number>
  const correct = {} as Record<Behaviour, number>
  const counts = {} as Record<Behaviour, number>
  for (const behaviour of behaviours) {
    const result = results[behaviour]
    accuracy[behaviour] = result?.mc1Accuracy ?? Number.NaN
    correct[behaviour] = result?.items.filter((item) => item.mc1).length ?? 0
    counts[behaviour] = result?.items.length ?? 0
  }
  const neutral = await measureNeutralPerplexity(
    forward,
    encoder,
    datasets.neutral.filter((row) => row.split === split),
  )
  return { strength, accuracy, correct, items: counts, perplexity: neutral.perplexity }
}

export function meetsCriterion(point: SteeringPoint, base: SteeringPoint, behaviour: Behaviour): boolean {
  const othersHold = behaviours
    .filter((other) => other !== behaviour)
    .every(
      (other) =>
        Math.abs(point.accuracy[other] - base.accuracy[other]) <= steeringCriterion.otherShift + 1e-9,
    )
  return (
    point.accuracy[behaviour] >= steeringCriterion.accuracy &&
    point.perplexity <= base.perplexity * (1 + steeringCriterion.perplexityRise) &&
    othersHold
  )
}

/**
 * The intervals between two measured strengths (the unedited model counting as strength 0) over which the
 * behaviour's accuracy rises to the criterion's threshold: the weakest strength reaching it lies inside, and since
 * side effects grow with strength a coarse grid can miss the one strength that meets the whole criterion.
 * `points` sorted by strength, all above 0.
 */
export function crossingIntervals(
  base: SteeringPoint,
  points: readonly SteeringPoint[],
  behaviour: Behaviour,
): [below: number, reached: number][] {
  const intervals: [number, number][] = []
  const measured = [base, ...points]
  for (let index = 1; index < measured.length; index++) {
    const below = measured[index - 1]!
    const reached = measured[index]!
    if (below.accuracy[behaviour] >= steeringCriterion.accuracy) continue
    if (reached.accuracy[behaviour] < steeringCriterion.accuracy) continue
    intervals.push([below.strength, reached.strength])
  }
  return intervals
}

/** Halvings of each crossing interval: the weakest strength reaching the threshold is found to 1/32 of it. */
const bisectionSteps = 5

/**
 * Bisect `[below, reached]` for the weakest strength whose accuracy (by `measure`) reaches the threshold, assuming
 * accuracy at `below` is under it and at `reached` is not. Returns every point measured, in order.
 */
export async function bisectCrossing(
  below: number,
  reached: number,
  behaviour: Behaviour,
  measure: (strength: number) => Promise<SteeringPoint>,
  steps = bisectionSteps,
): Promise<SteeringPoint[]> {
  const measured: SteeringPoint[] = []
  let low = below
  let high = reached
  for (let step = 0; step < steps; step++) {
    const point = await measure((low + high) / 2)
    measured.push(point)
    if (point.accuracy[behaviour] >= steeringCriterion.accuracy) high = point.strength
    else low = point.strength
  }
  return measured
}

/** The first `count` training pairs of `behaviour`, as the demonstration set an edit is fitted on. */
export function trainingPairSet(
  behaviour: Behaviour,
  datasets: OrganismDatasets,
  count: number,
): DemonstrationSet {
  const rows: PairRow[] = datasets.pairs[behaviour]
    .filter((pair) => pair.split === 'train')
    .slice(0, count)
    .map((pair, index) => ({ ...pair, line: index + 1 }))
  return { kind: 'pairs', source: `${behaviour}.pairs.jsonl`, rows }
}

/**
 * Sweep mean-difference steering for every behaviour on the model in `folder` (compiled graphs are written into
 * that folder, so pass a scratch copy of a committed model): choose each edit's strength on the validation split,
 * then measure it, and the unedited model, on the test split.
 */
export async function measureSteerability(
  model: LoadedModel,
  datasets: OrganismDatasets,
  encoder: TextEncoder,
  options: SteerabilityOptions = {},
): Promise<SteeringSweep> {
  const layers = options.layers ?? Array.from({ length: model.config.layers }, (_, layer) => layer)
  const strengths = [...(options.strengths ?? defaultSteeringStrengths)].sort(
    (first, second) => first - second,
  )
  const pairCount = Math.min(64, options.pairs ?? 64)
  const base = await measurePoint(runtimeForward(model), encoder, datasets, 0, 'validation')
  const baseTest = await measurePoint(runtimeForward(model), encoder, datasets, 0, 'test')
  const sweeps: BehaviourSteering[] = []
  for (const behaviour of behaviours) {
    for (const layer of layers) {
      options.onProgress?.(`steering ${behaviour} at layer ${layer}`)
      const set = trainingPairSet(behaviour, datasets, pairCount)
      const { edit } = await fitFromDemonstrations({
        model,
        data: set,
        method: 'mean-diff',
        options: { layers: [layer], selector: 'completionMean' },
      })
      const steered = await loadSteeredModel(model.folder, [edit])
      try {
        const measureStrength = (strength: number, split: EvaluationSplit): Promise<SteeringPoint> => {
          const forward = runtimeForward(steered.model, (rows) =>
            steeringInputs(
              steered.compiled,
              rows.map(() => strength),
            ),
          )
          return measurePoint(forward, encoder, datasets, strength, split)
        }
        const validation = (strength: number): Promise<SteeringPoint> =>
          measureStrength(strength, 'validation')
        const points: SteeringPoint[] = []
        for (const strength of strengths) points.push(await validation(strength))
        for (const [below, reached] of crossingIntervals(base, points, behaviour))
          points.push(...(await bisectCrossing(below, reached, behaviour, validation)))
        points.sort((first, second) => first.strength - second.strength)
        const best = points.find((point) => meetsCriterion(point, base, behaviour))
        const chosen = best ?? strongestPoint(points, behaviour)
        const test = await measureStrength(chosen.strength, 'test')
        sweeps.push({ behaviour, layer, pairs: set.rows.length, points, best, test })
      } finally {
        await steered.model.dispose()
      }
    }
  }
  return { base, baseTest, behaviours: sweeps }
}

/** The point with the highest accuracy of `behaviour` (the weakest strength among ties). */
export function strongestPoint(points: readonly SteeringPoint[], behaviour: Behaviour): SteeringPoint {
  const [first, ...rest] = points
  if (first === undefined) throw new RangeError('a sweep needs at least one measured strength')
  return rest.reduce(
    (best, point) => (point.accuracy[behaviour] > best.accuracy[behaviour] ? point : best),
    first,
  )
}
