import { isDecayed, type Parameters } from './parameters.ts'

/** AdamW hyper-parameters (decoupled weight decay, Loshchilov & Hutter). */
export interface AdamWSettings {
  beta1: number
  beta2: number
  epsilon: number
  /** Applied to matrices only; norm gains are not decayed. */
  weightDecay: number
}

/** Learning-rate schedule: linear warm-up to `peak`, then cosine decay to `peak · finalFraction` at `totalSteps`. */
export interface ScheduleSettings {
  peak: number
  warmupSteps: number
  totalSteps: number
  finalFraction: number
}

/** The learning rate at 0-based `step`. */
export function scheduledLearningRate(step: number, schedule: ScheduleSettings): number {
  if (step < schedule.warmupSteps) return (schedule.peak * (step + 1)) / schedule.warmupSteps
  const span = Math.max(1, schedule.totalSteps - schedule.warmupSteps)
  const progress = Math.min(1, (step - schedule.warmupSteps) / span)
  const floor = schedule.peak * schedule.finalFraction
  return floor + (schedule.peak - floor) * 0.5 * (1 + Math.cos(Math.PI * progress))
}

/** Global L2 norm of all gradients. */
export function gradientNorm(gradients: ReadonlyMap<string, Float32Array>): number {
  let total = 0
  for (const values of gradients.values())
    for (let index = 0; index < values.length; index++) total += (values[index] as number) ** 2
  return Math.sqrt(total)
}

/**
 * AdamW over Float32Array parameters, updated in place. State is O(parameters) and every update is one pass over
 * each array: cheap next to the training graph's products.
 */
export class AdamW {
  private readonly firstMoments = new Map<string, Float32Array>()
  private readonly secondMoments = new Map<string, Float32Array>()
  private steps = 0

  constructor(
    private readonly parameters: Parameters,
    private readonly settings: AdamWSettings,
  ) {
    for (const [name, values] of parameters) {
      this.firstMoments.set(name, new Float32Array(values.length))
      this.secondMoments.set(name, new Float32Array(values.length))
    }
  }

  /** One update with `gradients` multiplied by `gradientScale` (for clipping) at `learningRate`. */
  step(gradients: ReadonlyMap<string, Float32Array>, learningRate: number, gradientScale = 1): void {
    this.steps++
    const { beta1, beta2, epsilon, weightDecay } = this.settings
    const firstCorrection = 1 - beta1 ** this.steps
    const secondCorrection = 1 - beta2 ** this.steps
    for (const [name, values] of this.parameters) {
      const gradient = gradients.get(name)
      const first = this.firstMoments.get(name)
      const second = this.secondMoments.get(name)
      if (gradient === undefined || first === undefined || second === undefined) {
        throw new RangeError(`no gradient or optimizer state for ${name}`)
      }
      const decay = isDecayed(name) ? 1 - learningRate * weightDecay : 1
      for (let index = 0; index < values.length; index++) {
        const g = (gradient[index] as number) * gradientScale
        const m = beta1 * (first[index] as number) + (1 - beta1) * g
        const v = beta2 * (second[index] as number) + (1 - beta2) * g * g
        first[index] = m
        second[index] = v
        const update = m / firstCorrection / (Math.sqrt(v / secondCorrection) + epsilon)
        values[index] = (values[index] as number) * decay - learningRate * update
      }
    }
  }
}
