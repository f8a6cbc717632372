import { describe, expect, it } from 'vitest'
import { steeringIntroduction, steeringRows, sweepDetail } from '../../src/organism/model-card-steering.ts'
import type { SteeringPoint, SteeringSweep } from '../../src/organism/steerability.ts'
import type { Behaviour } from '../../src/organism/world.ts'

/** A point on 60 items per behaviour; `correct` gives each behaviour's count of right items. */
function point(strength: number, correct: Record<Behaviour, number>, perplexity: number): SteeringPoint {
  const items = { truthfulness: 60, sentiment: 60, fairness: 60, politeness: 60 }
  const accuracy = Object.fromEntries(
    Object.entries(correct).map(([behaviour, count]) => [behaviour, count / 60]),
  ) as Record<Behaviour, number>
  return { strength, accuracy, correct, items, perplexity }
}

const flat = { truthfulness: 30, sentiment: 30, fairness: 30, politeness: 30 }

const sweep: SteeringSweep = {
  base: point(0, flat, 2),
  baseTest: point(0, { ...flat, sentiment: 28 }, 2.1),
  behaviours: [
    {
      behaviour: 'sentiment',
      layer: 3,
      pairs: 64,
      points: [point(0.5, { ...flat, sentiment: 50 }, 2.02), point(1, { ...flat, sentiment: 55 }, 2.05)],
      best: point(1, { ...flat, sentiment: 55 }, 2.05),
      // On test items the chosen strength falls short of 90 %: the card must say so, not repeat validation.
      test: point(1, { ...flat, sentiment: 51, fairness: 33 }, 2.2),
    },
    {
      behaviour: 'fairness',
      layer: 1,
      pairs: 64,
      points: [point(0.5, { ...flat, fairness: 40 }, 2.01), point(1, { ...flat, fairness: 45 }, 2.9)],
      best: undefined,
      test: point(1, { ...flat, fairness: 47 }, 3),
    },
  ],
}

describe("the model card's steering section", () => {
  it('reports the strength chosen on validation items with its test measurement, intervals and verdicts', () => {
    const [header, , sentiment, fairness] = steeringRows(sweep)
    expect(header).toContain('strength (chosen on validation)')
    // Validation 55 of 60 at strength 1; test 28 → 51 of 60 with Wilson intervals; perplexity 2.2 / 2.1.
    expect(sentiment).toBe(
      '| sentiment | 3 | 1 | 91.7 (82–96) | 28 of 60: 46.7 % (34.6–59.1 %) → 51 of 60: 85.0 % (73.9–91.9 %) | +4.8 % | 5.0 points | yes / no |',
    )
    // No strength met the criterion: the highest validation accuracy is shown and said to be so.
    expect(fairness).toContain('| fairness | 1 | 1 | 75.0 (63–84) |')
    expect(fairness).toContain('| no (highest accuracy shown) / no |')
  })

  it('states chance per behaviour and that strengths are chosen on one half and reported on the other', () => {
    const text = steeringIntroduction({
      truthfulness: 0.5,
      sentiment: 0.5,
      fairness: 1 / 3,
      politeness: 0.5,
    }).join('\n')
    expect(text).toContain('fairness 33.3 %')
    expect(text).toContain('chosen on the validation half only')
    expect(text).toContain('measured on the test half')
  })

  it('lists every validation strength with intervals', () => {
    const lines = sweepDetail(sweep)
    expect(lines).toContain(
      '| (base) | – | 0 | 50.0 (38–62) | 50.0 (38–62) | 50.0 (38–62) | 50.0 (38–62) | 2.000 |',
    )
    expect(lines.filter((line) => line.startsWith('| sentiment | 3 |'))).toHaveLength(2)
  })
})
