import { describe, expect, it } from 'vitest'
import { wilsonInterval } from '../../src/main/core/eval/intervals.ts'
import { accuracyText, compactAccuracy, correctCount } from '../../src/organism/card-accuracy.ts'

describe('accuracies as the model card states them', () => {
  it('gives each accuracy its count and 95 % Wilson interval', () => {
    // The example: 108 of 120 has a 95 % interval of 83–94 %.
    expect(accuracyText(108, 120)).toBe('108 of 120: 90.0 % (83.3–94.2 %)')
    const direct = wilsonInterval(108, 120)
    expect(direct.low).toBeCloseTo(0.8333, 3)
    expect(direct.high).toBeCloseTo(0.9419, 3)
    expect(compactAccuracy(54, 60)).toBe('90.0 (80–95)')
    expect(accuracyText(0, 60)).toBe('0 of 60: 0.0 % (0.0–6.0 %)')
    expect(accuracyText(60, 60)).toBe('60 of 60: 100.0 % (94.0–100.0 %)')
  })

  it('recovers the count behind a recorded share and refuses a share of another total', () => {
    expect(correctCount(63 / 120, 120)).toBe(63)
    expect(correctCount(0.4, 120)).toBe(48)
    expect(() => correctCount(0.5, 7)).toThrow(RangeError)
    expect(() => correctCount(Number.NaN, 120)).toThrow(RangeError)
  })
})
