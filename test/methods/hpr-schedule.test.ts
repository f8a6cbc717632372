/** HPR's learning-rate schedules as Hugging Face's Trainer steps them (warm-up from 0, then linear or cosine). */
import { describe, expect, it } from 'vitest'
import { learningRateAt, learningRateSchedule } from '../../src/main/core/methods/hpr/schedule.ts'

describe('HPR learning-rate schedule', () => {
  it('warms up over ⌈5 %⌉ of the steps from 0, then decays linearly to 0', () => {
    const schedule = learningRateSchedule('linear', 5e-4, 0.05, 100)
    expect(schedule.warmupSteps).toBe(5)
    expect(learningRateAt(schedule, 0)).toBe(0)
    expect(learningRateAt(schedule, 2)).toBeCloseTo(2e-4, 12)
    expect(learningRateAt(schedule, 5)).toBeCloseTo(5e-4, 12)
    expect(learningRateAt(schedule, 52.5)).toBeCloseTo(2.5e-4, 12)
    expect(learningRateAt(schedule, 99)).toBeCloseTo(5e-4 / 95, 12)
  })

  it('follows a half cosine after the warm-up when asked', () => {
    const schedule = learningRateSchedule('cosine', 1, 0.1, 21)
    expect(schedule.warmupSteps).toBe(3)
    expect(learningRateAt(schedule, 3)).toBeCloseTo(1, 12)
    expect(learningRateAt(schedule, 12)).toBeCloseTo(0.5, 12)
    expect(learningRateAt(schedule, 21)).toBeCloseTo(0, 12)
  })
})
