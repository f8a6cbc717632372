import type { LlamaConfig } from '../checkpoint.ts'
import { ropeFrequencyDivisors } from './rope-scaling.ts'

/**
 * RoPE tables for every position up to `maxPositionEmbeddings`, in Hugging Face's rotate_half convention:
 * frequency i (0 ≤ i < headDim/2) is θ^(-2i/headDim) (divided by the scaling's divisor, rope-scaling.ts) and rotates dimensions i and i + headDim/2 together.
 */
export interface RopeTables {
  /** `[maxPositions, headDim / 2]` cos(position · frequency i) */
  cos: Float32Array
  /** `[maxPositions, headDim / 2]` sin(position · frequency i) */
  sin: Float32Array
  positions: number
  half: number
}

/**
 * Half-width tables: the layout of com.microsoft RotaryEmbedding's cos_cache / sin_cache. `local` builds the
 * sliding layers' tables of Gemma 3: base localRopeTheta, no scaling.
 */
export function ropeTables(config: LlamaConfig, local = false): RopeTables {
  const half = config.headDim / 2
  const positions = config.maxPositionEmbeddings
  const cos = new Float32Array(positions * half)
  const sin = new Float32Array(positions * half)
  const theta = local ? (config.localRopeTheta ?? config.ropeTheta) : config.ropeTheta
  const divisors = local ? new Float64Array(half).fill(1) : ropeFrequencyDivisors(config)
  for (let i = 0; i < half; i++) {
    const frequency = theta ** ((-2 * i) / config.headDim) / (divisors[i] ?? 1)
    for (let position = 0; position < positions; position++) {
      cos[position * half + i] = Math.cos(position * frequency)
      sin[position * half + i] = Math.sin(position * frequency)
    }
  }
  return { cos, sin, positions, half }
}

/** `[positions, half]` → `[positions, 2·half]` by repeating each row (HF's cat(freqs, freqs)), for primitive RoPE. */
export function fullWidth(table: Float32Array, positions: number, half: number): Float32Array {
  const result = new Float32Array(positions * half * 2)
  for (let position = 0; position < positions; position++) {
    const row = table.subarray(position * half, (position + 1) * half)
    result.set(row, position * half * 2)
    result.set(row, position * half * 2 + half)
  }
  return result
}
