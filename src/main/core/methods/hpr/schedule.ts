/**
 * HPR's learning-rate schedules, as Hugging Face's Trainer computes them per optimizer step: linear warm-up from
 * 0 over ⌈warmupRatio·total⌉ steps, then linear decay to 0 (the released code's default) or a half cosine to 0
 * (the paper's wording).
 */

/** Which decay follows the warm-up. */
export type ScheduleKind = 'linear' | 'cosine'

/** The schedule of one training run. */
export interface LearningRateSchedule {
  kind: ScheduleKind
  peak: number
  warmupSteps: number
  totalSteps: number
}

/** The schedule for `totalSteps` steps with warm-up ratio `warmupRatio`. */
export function learningRateSchedule(
  kind: ScheduleKind,
  peak: number,
  warmupRatio: number,
  totalSteps: number,
): LearningRateSchedule {
  return { kind, peak, warmupSteps: Math.ceil(warmupRatio * totalSteps), totalSteps }
}

/** The learning rate of 0-based step `step` (HF's lr_lambda: the first warm-up step has rate 0). */
export function learningRateAt(schedule: LearningRateSchedule, step: number): number {
  const { peak, warmupSteps, totalSteps } = schedule
  if (step < warmupSteps) return (peak * step) / Math.max(1, warmupSteps)
  const progress = (step - warmupSteps) / Math.max(1, totalSteps - warmupSteps)
  if (schedule.kind === 'linear') return peak * Math.max(0, 1 - progress)
  return peak * Math.max(0, 0.5 * (1 + Math.cos(Math.PI * progress)))
}
