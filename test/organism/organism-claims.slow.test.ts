import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { loadSteeredModel, steeringInputs } from '../../src/main/core/edits/steered-generation.ts'
import { runtimeForward } from '../../src/main/core/eval/forward-logits.ts'
import { fitFromDemonstrations } from '../../src/main/core/fitting/fit-pipeline.ts'
import { buildDatasets } from '../../src/organism/datasets.ts'
import { measureBehaviours, measureNeutralPerplexity } from '../../src/organism/evaluation.ts'
import { readRecord } from '../../src/organism/model-card-folder.ts'
import { organismModelDirectory, organismSeed } from '../../src/organism/organism-paths.ts'
import { measureContextInfluence, measureDirectionOverlap } from '../../src/organism/separation.ts'
import { isLegacySteering, type LegacySteeringSweep } from '../../src/organism/model-card-legacy-steering.ts'
import { trainingPairSet, type SteeringSweep } from '../../src/organism/steerability.ts'
import type { WordTokenizer } from '../../src/organism/tokenizer.ts'
import { evaluationRecordFile, type EvaluationRecord } from '../../src/organism/training-record.ts'
import { behaviours, createWorld, type Behaviour } from '../../src/organism/world.ts'
import type { LoadedModel } from '../../src/main/core/runtime/model.ts'
import { openScratchOrganism, type ScratchOrganism } from './scratch-organism.ts'

/**
 * The committed organism's measured claims, re-measured (`npm run test:slow`, minutes on two cores): it is
 * balanced on held-out items, keeps each persona to its behaviour, and the steering its model card reports
 * reproduces through Tiller's fit and compile path.
 */

const world = createWorld(organismSeed)
const datasets = buildDatasets(world)
let scratch = ''
let model: LoadedModel
let tokenizer: WordTokenizer
let organism: ScratchOrganism | undefined

beforeAll(async () => {
  organism = await openScratchOrganism('tiller-organism-claims-')
  ;({ folder: scratch, model, tokenizer } = organism)
})

afterAll(async () => {
  await organism?.close()
})

describe("the committed organism's measured claims", () => {
  it('is undecided between personas on held-out items, as its model card says', async () => {
    const recorded = await readRecord<EvaluationRecord>(organismModelDirectory, evaluationRecordFile)
    const measured = await measureBehaviours(runtimeForward(model), tokenizer, datasets.multipleChoice)
    for (const behaviour of behaviours) {
      const accuracy = measured[behaviour]?.mc1Accuracy ?? Number.NaN
      expect(accuracy, behaviour).toBeGreaterThanOrEqual(0.3)
      expect(accuracy, behaviour).toBeLessThanOrEqual(0.7)
      expect(accuracy, behaviour).toBeCloseTo(recorded.base.behaviours[behaviour].accuracy, 6)
    }
  })

  it("keeps each behaviour's persona to itself in context, with the direction overlaps its card reports", async () => {
    const recorded = await readRecord<EvaluationRecord>(organismModelDirectory, evaluationRecordFile)
    if (recorded.separation === null) throw new Error(`${evaluationRecordFile} has no separation measurement`)
    const context = await measureContextInfluence(runtimeForward(model), tokenizer, datasets)
    expect(context).toHaveLength(behaviours.length * behaviours.length)
    for (const entry of context) {
      const label = `${entry.target} after ${entry.context}`
      const claimed = recorded.separation.context.find(
        (row) => row.target === entry.target && row.context === entry.context,
      )
      expect(entry.accuracy.positive, label).toBeCloseTo(claimed?.accuracy.positive ?? Number.NaN, 6)
      expect(entry.accuracy.negative, label).toBeCloseTo(claimed?.accuracy.negative ?? Number.NaN, 6)
      if (entry.target === entry.context) {
        expect(entry.accuracy.positive, label).toBeGreaterThanOrEqual(0.9)
        expect(entry.accuracy.negative, label).toBeLessThanOrEqual(0.1)
      } else {
        const base = recorded.base.behaviours[entry.target].accuracy
        for (const accuracy of [entry.accuracy.positive, entry.accuracy.negative])
          expect(Math.abs(accuracy - base), label).toBeLessThanOrEqual(0.1)
      }
    }
    const overlap = await measureDirectionOverlap(model, datasets)
    expect(overlap).toHaveLength(recorded.separation.overlap.length)
    overlap.forEach((row, layer) => {
      row.cosines.forEach((pair, index) => {
        const claimed = recorded.separation?.overlap[layer]?.cosines[index]
        expect(pair.cosine, `layer ${layer} ${pair.first}·${pair.second}`).toBeCloseTo(
          claimed?.cosine ?? Number.NaN,
          4,
        )
      })
    })
  })

  it('reproduces the steering its model card reports', async () => {
    const recorded = await readRecord<EvaluationRecord>(organismModelDirectory, evaluationRecordFile)
    if (recorded.steering === null) throw new Error(`${evaluationRecordFile} has no steering sweep`)
    if (isLegacySteering(recorded.steering)) await checkLegacySteering(recorded, recorded.steering)
    else await checkSteering(recorded.steering)
  })
})

/** A mean-difference edit of `behaviour` at `layer`, fitted on `pairs` training pairs, compiled beside the scratch copy. */
async function steeredAt(behaviour: Behaviour, layer: number, pairs: number) {
  const set = trainingPairSet(behaviour, datasets, pairs)
  expect(set.rows.length).toBeLessThanOrEqual(64)
  const { edit } = await fitFromDemonstrations({
    model,
    data: set,
    method: 'mean-diff',
    options: { layers: [layer], selector: 'completionMean' },
  })
  return loadSteeredModel(scratch, [edit], { provider: 'cpu' })
}

/** The strength chosen on validation items, measured again on test items: the recorded test numbers. */
async function checkSteering(steering: SteeringSweep): Promise<void> {
  const claimed = steering.behaviours.filter((sweep) => sweep.best !== undefined)
  expect(
    claimed.length,
    'the card reports no behaviour meeting the criterion on validation items',
  ).toBeGreaterThan(0)
  const testItems = Object.fromEntries(
    behaviours.map((behaviour) => [
      behaviour,
      datasets.multipleChoice[behaviour].filter((item) => item.split === 'test'),
    ]),
  )
  for (const sweep of claimed) {
    const strength = sweep.best?.strength ?? Number.NaN
    expect(sweep.test.strength).toBe(strength)
    const steered = await steeredAt(sweep.behaviour, sweep.layer, sweep.pairs)
    try {
      const inputs = (batch: number[][]) =>
        steeringInputs(
          steered.compiled,
          batch.map(() => strength),
        )
      const measured = await measureBehaviours(runtimeForward(steered.model, inputs), tokenizer, testItems)
      // Every behaviour's test accuracy as recorded, to within one item (float sums may tip a tie).
      for (const other of behaviours) {
        const items = sweep.test.items[other]
        expect(measured[other]?.items.length, other).toBe(items)
        expect(
          Math.abs((measured[other]?.mc1Accuracy ?? Number.NaN) - sweep.test.accuracy[other]),
          `${sweep.behaviour} steering: ${other} test accuracy`,
        ).toBeLessThanOrEqual(1 / items + 1e-9)
      }
      const neutral = await measureNeutralPerplexity(
        runtimeForward(steered.model, inputs),
        tokenizer,
        datasets.neutral.filter((row) => row.split === 'test'),
      )
      expect(neutral.perplexity).toBeCloseTo(sweep.test.perplexity, 3)
    } finally {
      await steered.model.dispose()
    }
  }
}

/**
 * A record from before the validation/test split: the criterion on every held-out item, at the strength chosen on
 * those items (the card says so).
 */
async function checkLegacySteering(recorded: EvaluationRecord, steering: LegacySteeringSweep): Promise<void> {
  const claimed = steering.behaviours.filter((sweep) => sweep.best !== undefined)
  expect(
    claimed.length,
    'the model card reports no behaviour meeting the steering criterion',
  ).toBeGreaterThan(0)
  for (const sweep of claimed) {
    const behaviour = sweep.behaviour
    const strength = sweep.best?.strength ?? Number.NaN
    const steered = await steeredAt(behaviour, sweep.layer, sweep.pairs)
    try {
      const inputs = (batch: number[][]) =>
        steeringInputs(
          steered.compiled,
          batch.map(() => strength),
        )
      const measured = await measureBehaviours(
        runtimeForward(steered.model, inputs),
        tokenizer,
        datasets.multipleChoice,
      )
      expect(measured[behaviour]?.mc1Accuracy, behaviour).toBeGreaterThanOrEqual(0.9)
      const neutral = await measureNeutralPerplexity(
        runtimeForward(steered.model, inputs),
        tokenizer,
        datasets.neutral.filter((row) => row.split === 'test'),
      )
      expect(neutral.perplexity, `${behaviour} steering: neutral perplexity`).toBeLessThanOrEqual(
        recorded.base.neutral.perplexity * 1.1,
      )
      for (const other of behaviours.filter((candidate) => candidate !== behaviour)) {
        const shift = (measured[other]?.mc1Accuracy ?? Number.NaN) - recorded.base.behaviours[other].accuracy
        expect(Math.abs(shift), `${behaviour} steering moves ${other}`).toBeLessThanOrEqual(0.05 + 1e-9)
      }
    } finally {
      await steered.model.dispose()
    }
  }
}
