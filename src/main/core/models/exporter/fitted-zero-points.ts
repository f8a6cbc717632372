import { roundQuotient } from './round-quotient.ts'

/**
 * 4-bit blocks of 32 with integer zero points fitted to float values: what a q4 export with int8 compute writes for
 * blocks with offsets (GGUF Q4_1, Q5_1, Q4_K, Q5_K: value = s·q + o), whose exact form needs a float zero point
 * −o/s that ONNX Runtime's int8 MatMulNBits kernel does not take.
 *
 * A block of values x is written as x ≈ scale · (q − zero) with q and zero integers in 0..15 (weight[k] =
 * scales[b] · (quant[k] − zeroPoint[b]), quantize-blocks.ts). Rounding −o/s to an integer moves the whole block
 * by up to half a step, one error shared by all 32 weights; instead each block's scale and zero point are searched
 * to minimise its squared error, in the manner of llama.cpp's make_qkx quantizers (written independently): the grid
 * always holds 0 (q = zero), so it spans [min(x, 0), max(x, 0)]; that range is tried over 14, 14.5, 15, 15.5 and 16
 * steps, and each try is refined twice by the least-squares scale of its quants (Σ x·k / Σ k², k = q − zero). The
 * try with the smallest squared error is kept. A block already of the form scale · (q − zero) over the whole range
 * (16 levels present) is found exactly; an all-zero block is written as zeros.
 */

const levels = 15
/** How many steps the block's range is spread over, one try each. */
const stepCounts = [15, 14, 14.5, 15.5, 16]
/** Least-squares refinements of each try's scale. */
const refinements = 2
const blockSize = 32

/** Quants, scales and zero points of a fitted weight, with its differences to the float values. */
export interface FittedQuants {
  /** `[elements]`, each in 0..15 */
  quants: Uint8Array
  /** `[blocks]` */
  scales: Float32Array
  /** `[blocks]`, each in 0..15 */
  zeros: Uint8Array
  /** Largest |scale · (q − zero) − x| over the weight, as MatMulNBits computes it (float32). */
  maximumError: number
  /** Σ (scale · (q − zero) − x)² over the weight. */
  squaredError: number
  /** Σ x² over the weight, so that sqrt(squaredError / squaredValues) is its relative RMS difference. */
  squaredValues: number
}

function clampLevel(value: number): number {
  return value < 0 ? 0 : value > levels ? levels : value
}

/**
 * One try's outcome, written by `evaluate`: its squared error and the least-squares scale Σ x·k / Σ k² of the
 * quants it gives (k = q − zero). Module-level so the hot loop allocates nothing; the export runs on one thread.
 */
const outcome = { error: 0, refinedScale: 0 }

/**
 * Writes in `outcome` the squared error of block [start, start + 32) written with float32 `scale` and `zero`, and
 * the least-squares scale of the same quants: one pass, since both follow from the quants alone.
 */
function evaluate(values: Float32Array, start: number, scale: number, zero: number): void {
  let error = 0
  let numerator = 0
  let denominator = 0
  for (let at = start; at < start + blockSize; at++) {
    const value = values[at] as number
    const level = clampLevel(roundQuotient(value, scale) + zero) - zero
    const gap = Math.fround(scale * level) - value
    error += gap * gap
    numerator += value * level
    denominator += level * level
  }
  outcome.error = error
  outcome.refinedScale = denominator > 0 ? numerator / denominator : scale
}

/** The zero point of `scale` that puts the grid's lowest level at or below `lowest`, as near as 0..15 allows. */
function zeroFor(lowest: number, scale: number): number {
  return clampLevel(roundQuotient(-lowest, scale))
}

/** The fitted scale and zero point of block `block` of `values`, written to `scales` and `zeros`. */
function fitBlock(values: Float32Array, block: number, scales: Float32Array, zeros: Uint8Array): void {
  const start = block * blockSize
  let lowest = 0
  let highest = 0
  for (let at = start; at < start + blockSize; at++) {
    const value = values[at] as number
    if (value < lowest) lowest = value
    if (value > highest) highest = value
  }
  // An all-zero block keeps scale 1, zero point 0 and quants 0: exactly zero.
  let bestScale = 1
  let bestZero = 0
  let bestError = Infinity
  for (let tried = 0; tried < stepCounts.length && highest !== lowest; tried++) {
    let scale = Math.fround((highest - lowest) / (stepCounts[tried] as number))
    for (let round = 0; round <= refinements && scale > 0; round++) {
      const zero = zeroFor(lowest, scale)
      evaluate(values, start, scale, zero)
      if (outcome.error < bestError) {
        bestScale = scale
        bestZero = zero
        bestError = outcome.error
      }
      const refined = Math.fround(outcome.refinedScale)
      // A scale its own refinement returns gives the same quants, error and refinement again: the try is done.
      if (refined === scale) break
      scale = refined
    }
  }
  scales[block] = bestScale
  zeros[block] = bestZero
}

/** Float values `[rows · columns]` (columns a multiple of 32) as 4-bit blocks of 32 with fitted zero points. */
export function fitZeroPoints(values: Float32Array): FittedQuants {
  const blocks = values.length / blockSize
  const result: FittedQuants = {
    quants: new Uint8Array(values.length),
    scales: new Float32Array(blocks),
    zeros: new Uint8Array(blocks),
    maximumError: 0,
    squaredError: 0,
    squaredValues: 0,
  }
  for (let block = 0; block < blocks; block++) {
    fitBlock(values, block, result.scales, result.zeros)
    const scale = result.scales[block] as number
    const zero = result.zeros[block] as number
    for (let at = block * blockSize; at < (block + 1) * blockSize; at++) {
      const value = values[at] as number
      const quant = clampLevel(roundQuotient(value, scale) + zero)
      result.quants[at] = quant
      const gap = Math.abs(Math.fround(scale * (quant - zero)) - value)
      result.maximumError = Math.max(result.maximumError, gap)
      result.squaredError += gap * gap
      result.squaredValues += value * value
    }
  }
  return result
}
