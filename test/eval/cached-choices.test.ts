import { rmSync } from 'node:fs'
import { dirname } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { loadSteeredModel, type SteeredModel } from '../../src/main/core/edits/steered-generation.ts'
import { cachedChoiceScorer } from '../../src/main/core/eval/cached-choice-scorer.ts'
import type { EncodedChoiceItem } from '../../src/main/core/eval/choice-scorer.ts'
import { rowChoiceScorer } from '../../src/main/core/eval/choice-scorer.ts'
import { runtimeForward } from '../../src/main/core/eval/forward-logits.ts'
import { scoreContinuations } from '../../src/main/core/eval/log-likelihood.ts'
import { perplexity } from '../../src/main/core/eval/perplexity.ts'
import {
  plainChoiceScorer,
  steeredChoiceScorer,
  steeredForward,
} from '../../src/main/core/eval/steered-scoring.ts'
import { sweepStrengths } from '../../src/main/core/eval/strength-sweep.ts'
import { loadModel, type LoadedModel } from '../../src/main/core/runtime/model.ts'
import { editOf, randomVector } from '../compiler/support.ts'
import { buildTinyModel } from '../helpers/tiny-models.ts'

// Choices of different lengths (1 to 5 tokens) after prompts of different lengths.
const items: EncodedChoiceItem[] = [
  { id: 'a', prompt: [1, 72, 101, 108], choices: [[108, 111], [33], [44, 32, 119, 111, 114]], correct: [0] },
  {
    id: 'b',
    prompt: [1, 87, 104, 97, 116, 63, 32],
    choices: [
      [89, 101, 115],
      [78, 111],
    ],
    correct: [1],
  },
  { id: 'c', prompt: [1, 50], choices: [[51, 52, 53, 54], [55], [56, 57], [58]], correct: [0, 2] },
]

/** Each choice as its own full row (prompt + choice) through a plain prefill: the reference. */
async function plainScores(model: LoadedModel, strength?: { steered: SteeredModel; value: number }) {
  const requests = items.flatMap((item) =>
    item.choices.map((continuation) => ({ context: item.prompt, continuation })),
  )
  const forward =
    strength === undefined
      ? runtimeForward(model)
      : (rows: number[][]) =>
          steeredForward(strength.steered)(
            rows,
            rows.map(() => strength.value),
            rows.map(() => 1),
          )
  const scored = await scoreContinuations(forward, requests, { batchSize: 1 })
  let cursor = 0
  return items.map((item) => item.choices.map(() => scored[cursor++]?.logProbability ?? Number.NaN))
}

describe.each(['builder', 'optimum'] as const)(
  'choice scoring with a reused prompt cache, %s family',
  (family) => {
    let folder: string
    let base: LoadedModel
    let steered: SteeredModel

    beforeAll(async () => {
      folder = await buildTinyModel({ family, seed: 5 })
      base = await loadModel(folder, { provider: 'cpu' })
      const edit = editOf('steer', [
        {
          layer: 0,
          site: 'resid_post',
          positions: { kind: 'all' },
          op: { kind: 'add', vector: randomVector(32, 9).map((value) => value * 3) },
        },
      ])
      steered = await loadSteeredModel(folder, [edit], { provider: 'cpu' })
    })
    afterAll(async () => {
      await base.dispose()
      await steered.model.dispose()
      rmSync(dirname(folder), { recursive: true, force: true })
    })

    it('matches plain per-choice scoring of the base model', async () => {
      const reference = await plainScores(base)
      const cached = await cachedChoiceScorer(base)(items, [0])
      const rows = await rowChoiceScorer((tokenRows) => runtimeForward(base)(tokenRows))(items, [0])
      items.forEach((item, index) => {
        item.choices.forEach((_, choice) => {
          const expected = reference[index]?.[choice] as number
          expect(cached[index]?.[0]?.[choice]).toBeCloseTo(expected, 4)
          expect(rows[index]?.[0]?.[choice]).toBeCloseTo(expected, 4)
        })
      })
      // The scores differ between choices, so agreement is not a constant.
      expect(new Set(reference.flat().map((score) => score.toFixed(3))).size).toBeGreaterThan(5)
    })

    it('scores several strengths in one pass: strength 0 is the base bit for bit, strength 1 the steered model', async () => {
      const baseScores = await plainChoiceScorer(base)(items, [0])
      const swept = await steeredChoiceScorer(steered)(items, [0, 1, -1])
      const referenceOne = await plainScores(base, { steered, value: 1 })
      items.forEach((item, index) => {
        expect(swept[index]?.[0]).toEqual(baseScores[index]?.[0])
        item.choices.forEach((_, choice) => {
          expect(swept[index]?.[1]?.[choice]).toBeCloseTo(referenceOne[index]?.[choice] as number, 4)
        })
        expect(swept[index]?.[1]).not.toEqual(swept[index]?.[0])
        expect(swept[index]?.[2]).not.toEqual(swept[index]?.[1])
      })
    })

    it('sweeps strengths with fluency: KL 0 and the base perplexity at strength 0', async () => {
      const texts = [
        { text: 'Hello there', tokens: [1, 72, 101, 108, 108, 111, 32, 116, 104, 101, 114, 101] },
        { text: 'ok', tokens: [1, 111, 107] },
      ]
      const points = await sweepStrengths({
        scorer: steeredChoiceScorer(steered),
        forward: steeredForward(steered),
        items,
        texts,
        strengths: [1, 2],
        batchRows: 4,
      })
      expect(points.map((point) => point.strength)).toEqual([0, 1, 2])
      const reference = await perplexity(
        runtimeForward(base),
        texts.map((text) => text.tokens),
      )
      expect(points[0]?.fluency?.perplexity).toBeCloseTo(reference.perplexity, 4)
      expect(points[0]?.fluency?.bytes).toBe(13)
      expect(points[0]?.klFromBase).toBe(0)
      expect(points[1]?.klFromBase).toBeGreaterThan(0)
      expect(points[2]?.klFromBase).toBeGreaterThan(points[1]?.klFromBase as number)
      expect((points[0]?.shift.remainsTrue ?? 0) + (points[0]?.shift.remainsFalse ?? 0)).toBe(1)
      const shift = points[2]?.shift
      expect(
        (shift?.falseToTrue ?? 0) +
          (shift?.trueToFalse ?? 0) +
          (shift?.remainsTrue ?? 0) +
          (shift?.remainsFalse ?? 0),
      ).toBeCloseTo(1, 12)
    })
  },
)
