import { describe, expect, it } from 'vitest'
import {
  bisectCrossing,
  crossingIntervals,
  meetsCriterion,
  strongestPoint,
  type SteeringPoint,
} from '../../src/organism/steerability.ts'

function point(strength: number, sentiment: number, perplexity = 2.5): SteeringPoint {
  const items = { truthfulness: 60, sentiment: 60, fairness: 60, politeness: 60 }
  return {
    strength,
    accuracy: { truthfulness: 0.5, sentiment, fairness: 0.5, politeness: 0.5 },
    correct: { truthfulness: 30, sentiment: Math.round(sentiment * 60), fairness: 30, politeness: 30 },
    items,
    perplexity,
  }
}

describe('steering sweep refinement', () => {
  it('finds the intervals where the accuracy rises to the threshold, and nowhere else', () => {
    const points = [point(1, 0.5), point(2, 0.8), point(4, 0.95), point(6, 0.85), point(8, 0.92)]
    // 2 → 4 and 6 → 8 cross 90 %; 4 → 6 falls, 0 → 1 and 1 → 2 stay below.
    expect(crossingIntervals(point(0, 0.5), points, 'sentiment')).toEqual([
      [2, 4],
      [6, 8],
    ])
    expect(crossingIntervals(point(0, 0.5), points, 'truthfulness')).toEqual([])
  })

  it('counts the unedited model as strength 0, so a first strength already past the threshold is refined too', () => {
    expect(crossingIntervals(point(0, 0.5), [point(0.5, 0.9), point(1, 1)], 'sentiment')).toEqual([[0, 0.5]])
    expect(crossingIntervals(point(0, 0.95), [point(0.5, 0.9), point(1, 1)], 'sentiment')).toEqual([])
  })

  it('bisects to the weakest strength reaching the threshold', async () => {
    // Accuracy rises linearly from 50 % at 0 to 100 % at 1: the threshold is reached at 0.8.
    const measured: number[] = []
    const points = await bisectCrossing(0, 1, 'sentiment', (strength) => {
      measured.push(strength)
      return Promise.resolve(point(strength, 0.5 + strength / 2))
    })
    expect(measured).toEqual([0.5, 0.75, 0.875, 0.8125, 0.78125])
    expect(points.map((entry) => entry.strength)).toEqual(measured)
  })

  it('chooses the highest accuracy, the weakest strength among ties, where no strength meets the criterion', () => {
    const points = [point(0.5, 0.6), point(1, 0.85), point(2, 0.85), point(4, 0.7)]
    expect(strongestPoint(points, 'sentiment').strength).toBe(1)
    expect(() => strongestPoint([], 'sentiment')).toThrow(RangeError)
  })

  it('meets the criterion only with accuracy, perplexity and the other behaviours all within bounds', () => {
    const base = point(0, 0.5)
    expect(meetsCriterion(point(1, 0.9), base, 'sentiment')).toBe(true)
    expect(meetsCriterion(point(1, 0.88), base, 'sentiment')).toBe(false)
    expect(meetsCriterion(point(1, 0.95, 2.5 * 1.11), base, 'sentiment')).toBe(false)
    const moved = point(1, 0.95)
    moved.accuracy.fairness = 0.56
    expect(meetsCriterion(moved, base, 'sentiment')).toBe(false)
    moved.accuracy.fairness = 0.55
    expect(meetsCriterion(moved, base, 'sentiment')).toBe(true)
  })
})
