import {
  expectedWeightShapes,
  type LlamaCheckpoint,
  type LlamaConfig,
} from '../../main/core/models/checkpoint.ts'
import { createRandom } from '../../main/core/random-streams.ts'

/** Trainable weights by Hugging Face name, float32, in the layouts of `expectedWeightShapes`. */
export type Parameters = Map<string, Float32Array>

/** Standard deviation of initial weights; residual-writing projections are further divided by sqrt(2·layers). */
const initialScale = 0.02

function isNorm(name: string): boolean {
  return name.endsWith('norm.weight')
}

/** Whether AdamW decays this weight: matrices yes, norm gains no. */
export function isDecayed(name: string): boolean {
  return !isNorm(name)
}

/**
 * Fresh weights for `config`, deterministic for `seed`: normal(0, 0.02) matrices, o_proj/down_proj scaled by
 * 1/sqrt(2·layers) (GPT-2's residual scaling), norm gains 1.
 */
export function initializeParameters(config: LlamaConfig, seed: number): Parameters {
  const parameters: Parameters = new Map()
  for (const [name, shape] of expectedWeightShapes(config)) {
    const size = shape.reduce((product, dim) => product * dim, 1)
    const values = new Float32Array(size)
    if (isNorm(name)) {
      values.fill(1)
    } else {
      const random = createRandom(seed).fork(`init:${name}`)
      const residual = name.endsWith('o_proj.weight') || name.endsWith('down_proj.weight')
      const scale = residual ? initialScale / Math.sqrt(2 * config.numLayers) : initialScale
      for (let index = 0; index < size; index++) values[index] = random.normal() * scale
    }
    parameters.set(name, values)
  }
  return parameters
}

/** Total number of trainable values. */
export function parameterCount(parameters: Parameters): number {
  let total = 0
  for (const values of parameters.values()) total += values.length
  return total
}

/** A checkpoint (the exporter's input) holding copies of `parameters`. */
export function toCheckpoint(config: LlamaConfig, parameters: Parameters): LlamaCheckpoint {
  const weights = new Map<string, { dtype: 'float32'; shape: number[]; data: Float32Array }>()
  for (const [name, shape] of expectedWeightShapes(config)) {
    const values = parameters.get(name)
    if (values === undefined) throw new RangeError(`parameters lack ${name}`)
    weights.set(name, { dtype: 'float32', shape, data: values.slice() })
  }
  return { config, weights }
}
