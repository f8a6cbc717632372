import { describe, expect, it } from 'vitest'
import { refinementStrengths, type SteeringPoint } from '../../src/main/core/organism/steerability.ts'

function point(strength: number, sentiment: number): SteeringPoint {
  return {
    strength,
    accuracy: { truthfulness: 0.5, sentiment, fairness: 0.5, politeness: 0.5 },
    perplexity: 2.5,
  }
}

describe('steering sweep refinement', () => {
  it('adds quarter steps where the accuracy rises to the threshold, and nowhere else', () => {
    const points = [point(1, 0.5), point(2, 0.8), point(4, 0.95), point(6, 0.85), point(8, 0.92)]
    // 2 → 4 and 6 → 8 cross 90 %; 4 → 6 falls, 1 → 2 stays below.
    expect(refinementStrengths(points, 'sentiment')).toEqual([2.5, 3, 3.5, 6.5, 7, 7.5])
    expect(refinementStrengths(points, 'truthfulness')).toEqual([])
  })

  it('adds nothing when the first strength already reaches the threshold', () => {
    expect(refinementStrengths([point(0.5, 0.9), point(1, 1)], 'sentiment')).toEqual([])
  })
})
