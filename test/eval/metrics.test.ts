import { describe, expect, it } from 'vitest'
import { chanceLevels, choiceMetrics } from '../../src/main/core/eval/choice-metrics.ts'
import { checkChoiceItems, checkChoiceLengths } from '../../src/main/core/eval/choice-validation.ts'
import { summarizeChoices } from '../../src/main/core/eval/choice-summary.ts'
import {
  bitsPerByte,
  bytePerplexityFromBitsPerByte,
  fluencyFromLikelihood,
} from '../../src/main/core/eval/fluency.ts'
import { bootstrapMean, wilsonInterval } from '../../src/main/core/eval/intervals.ts'
import { klDivergence, logSoftmaxAt } from '../../src/main/core/eval/log-softmax.ts'
import { shiftTable } from '../../src/main/core/eval/shift-table.ts'
import { strengthGrid } from '../../src/main/core/eval/strength-sweep.ts'
import { isTillerError } from '../../src/main/core/errors.ts'

function thrown(action: () => unknown): unknown {
  try {
    action()
  } catch (error) {
    return error
  }
  return undefined
}

describe('intervals', () => {
  it('gives the Wilson interval of 108/120 as 83.3–94.2 %', () => {
    const estimate = wilsonInterval(108, 120)
    expect(estimate.value).toBeCloseTo(0.9, 12)
    expect(estimate.low).toBeCloseTo(0.8333, 3)
    expect(estimate.high).toBeCloseTo(0.9418, 3)
  })

  it('keeps Wilson intervals inside [0, 1] at the extremes', () => {
    const none = wilsonInterval(0, 10)
    expect(none.low).toBe(0)
    expect(none.high).toBeCloseTo(0.2775, 3)
    const all = wilsonInterval(10, 10)
    expect(all.high).toBe(1)
    expect(all.low).toBeCloseTo(0.7225, 3)
    expect(Number.isNaN(wilsonInterval(0, 0).value)).toBe(true)
  })

  it('bootstraps a mean reproducibly around the sample mean', () => {
    const values = Array.from({ length: 200 }, (_, index) => (index % 10) / 10)
    const first = bootstrapMean(values, { seed: 7 })
    expect(bootstrapMean(values, { seed: 7 })).toEqual(first)
    expect(first.value).toBeCloseTo(0.45, 12)
    // Standard error of the mean: sd 0.2872 / √200 = 0.0203; the 95 % half-width is about 1.96 of them.
    expect(first.high - first.low).toBeGreaterThan(0.06)
    expect(first.high - first.low).toBeLessThan(0.1)
    expect(first.low).toBeLessThan(0.45)
    expect(first.high).toBeGreaterThan(0.45)
    const constant = bootstrapMean([0.3, 0.3, 0.3])
    expect(constant.low).toBeCloseTo(0.3, 12)
    expect(constant.high).toBeCloseTo(0.3, 12)
  })
})

describe('multiple-choice metrics', () => {
  it('computes MC1, MC2 and MC3 from known scores', () => {
    // Choices 0 and 1 right; scores as log p.
    const scores = [Math.log(0.2), Math.log(0.1), Math.log(0.15), Math.log(0.05)]
    const metrics = choiceMetrics(scores, [0, 1])
    expect(metrics.mc1).toBe(true)
    expect(metrics.mc2).toBeCloseTo(0.3 / 0.5, 12)
    expect(metrics.mc3).toBeCloseTo(0.5, 12)
    const lost = choiceMetrics([-2, -1], [0])
    expect(lost).toEqual({ mc1: false, mc2: expect.closeTo(1 / (1 + Math.E), 12), mc3: 0 })
  })

  it('counts a tie as not above (MC1 strictly greater)', () => {
    expect(choiceMetrics([-1, -1], [0]).mc1).toBe(false)
  })

  it('computes MC2 by log-sum-exp where exp underflows', () => {
    const metrics = choiceMetrics([-2000, -2001, -2002], [0])
    const expected = 1 / (1 + Math.exp(-1) + Math.exp(-2))
    expect(metrics.mc2).toBeCloseTo(expected, 12)
  })

  it('states chance levels per item set (two- and three-choice items)', () => {
    const chance = chanceLevels([
      { choices: ['a', 'b'], correct: [0] },
      { choices: ['a', 'b', 'c'], correct: [2] },
      { choices: ['a', 'b', 'c', 'd'], correct: [0, 1] },
    ])
    expect(chance.mc1).toBeCloseTo((1 / 2 + 1 / 3 + 2 / 4) / 3, 12)
    expect(chance.mc2).toBeCloseTo((1 / 2 + 1 / 3 + 2 / 4) / 3, 12)
    expect(chance.mc3).toBeCloseTo((1 / 2 + 1 / 3 + 1 / 3) / 3, 12)
    expect(chance.choiceCounts).toEqual([2, 3, 4])
  })

  it('summarises items with intervals and keeps per-item scores', () => {
    const items = Array.from({ length: 10 }, (_, index) => ({
      id: `item-${index}`,
      choices: [[1], [2]],
      correct: [0],
    }))
    const scores = items.map((_, index) => (index < 7 ? [-1, -2] : [-2, -1]))
    const summary = summarizeChoices(items, scores)
    expect(summary.items.map((item) => item.scores)).toEqual(scores)
    expect(summary.mc1.value).toBeCloseTo(0.7, 12)
    expect(summary.mc1).toEqual(wilsonInterval(7, 10))
    expect(summary.mc2.value).toBeCloseTo((7 * (1 / (1 + Math.exp(-1))) + 3 * (1 / (1 + Math.E))) / 10, 12)
    expect(summary.chance.mc1).toBeCloseTo(0.5, 12)
  })
})

describe('shift table', () => {
  it('splits items into the four cells, summing to 100 %', () => {
    const base = [true, true, false, false, false, true, false, false]
    const edited = [true, false, true, false, true, true, false, true]
    const table = shiftTable(base, edited)
    expect(table).toEqual({
      items: 8,
      falseToTrue: 3 / 8,
      trueToFalse: 1 / 8,
      remainsTrue: 2 / 8,
      remainsFalse: 2 / 8,
      shiftRate: 4 / 8,
    })
    expect(table.falseToTrue + table.trueToFalse + table.remainsTrue + table.remainsFalse).toBeCloseTo(1, 12)
    // Edited accuracy = False→True + Remains True.
    expect(table.falseToTrue + table.remainsTrue).toBeCloseTo(edited.filter(Boolean).length / 8, 12)
    expect(isTillerError(thrown(() => shiftTable([true], [])))).toBe(true)
  })
})

describe('fluency', () => {
  it('converts bits per byte and byte perplexity (HPR Table 5: 0.7063 ↔ 1.6316)', () => {
    expect(bytePerplexityFromBitsPerByte(0.7063)).toBeCloseTo(1.6316, 4)
    const bytes = 1000
    const negativeLogLikelihood = 0.7063 * bytes * Math.LN2
    expect(bitsPerByte(negativeLogLikelihood, bytes)).toBeCloseTo(0.7063, 12)
    const fluency = fluencyFromLikelihood(negativeLogLikelihood, { tokens: 250, bytes, words: 180 })
    expect(fluency.bytePerplexity).toBeCloseTo(1.6316, 4)
    expect(fluency.perplexity).toBeCloseTo(Math.exp(negativeLogLikelihood / 250), 10)
    expect(fluency.wordPerplexity).toBeCloseTo(Math.exp(negativeLogLikelihood / 180), 10)
  })

  it('computes KL(p ‖ q) of two distributions and 0 for equal ones', () => {
    const p = logSoftmaxAt([0, 0], 0, 2, new Float64Array(2))
    const q = logSoftmaxAt([Math.log(0.9), Math.log(0.1)], 0, 2, new Float64Array(2))
    expect(klDivergence(p, q, 2)).toBeCloseTo(0.5 * Math.log(0.5 / 0.9) + 0.5 * Math.log(0.5 / 0.1), 12)
    expect(klDivergence(p, p, 2)).toBe(0)
  })
})

describe('bad input', () => {
  it('names the item and field of unusable multiple-choice items', () => {
    const one = thrown(() => checkChoiceItems([{ id: 'q7', choices: ['yes'], correct: [0] }], 'set.jsonl'))
    expect(isTillerError(one, 'invalid-dataset')).toBe(true)
    expect((one as Error).message).toContain('item q7 field "choices"')
    const duplicate = thrown(() =>
      checkChoiceItems([{ id: 'q8', choices: ['yes', 'no', 'yes '], correct: [0] }], 'set.jsonl'),
    )
    expect((duplicate as Error).message).toContain('choices 0 and 2 are the same text')
    const range = thrown(() => checkChoiceItems([{ id: 'q9', choices: ['a', 'b'], correct: [2] }], 's'))
    expect((range as Error).message).toContain('item q9 field "correct"')
    expect(() => checkChoiceItems([{ id: 'ok', choices: ['a', 'b', 'c'], correct: [1] }], 's')).not.toThrow()
    const long = thrown(() =>
      checkChoiceLengths([{ id: 'q10', prompt: [1, 2, 3], choices: [[4], [5, 6]] }], 4, 'set.jsonl'),
    )
    expect(isTillerError(long, 'prompt-too-long')).toBe(true)
    expect((long as Error).message).toContain('item q10')
  })

  it('refuses a strength grid with NaN, naming the entry, and puts 0 first', () => {
    const error = thrown(() => strengthGrid([1, Number.NaN], '--strengths'))
    expect(isTillerError(error, 'invalid-argument')).toBe(true)
    expect((error as Error).message).toContain('--strengths entry 2 is NaN')
    expect(strengthGrid([2, 0, 1])).toEqual([0, 2, 1])
    expect(strengthGrid([1, 2])).toEqual([0, 1, 2])
  })
})
