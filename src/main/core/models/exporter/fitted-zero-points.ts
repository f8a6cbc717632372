import { fitBlocks, statisticsPerBlock } from './fit-blocks.ts'
import { awaitChunk, defaultFitWorkers, fitSlots, postChunk, type FitSlot } from './fit-workers.ts'

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
 *
 * The search itself is fit-blocks.ts; large weights are fitted in chunks by worker threads beside this one
 * (fit-workers.ts). The statistics are summed block by block in order, so the result is the same with any number
 * of workers.
 */

const blockSize = 32
/** Blocks a chunk holds: 2 MB of float32 values, about 70 ms of fitting, so handing it over costs nothing. */
const defaultChunkBlocks = 16_384

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

/** How `fitZeroPoints` spreads its work; the defaults suit an import, tests choose small chunks. */
export interface FitOptions {
  /** Worker threads beside this one (default: one per further core, at most three; 0 fits on this thread). */
  workers?: number
  /** Blocks per chunk handed to a worker. */
  chunkBlocks?: number
}

/** Add a chunk's per-block statistics to the weight's totals, in block order. */
function addStatistics(result: FittedQuants, statistics: Float64Array, count: number): void {
  for (let block = 0; block < count; block++) {
    const at = block * statisticsPerBlock
    result.squaredError += statistics[at] as number
    result.squaredValues += statistics[at + 1] as number
    result.maximumError = Math.max(result.maximumError, statistics[at + 2] as number)
  }
}

/** Fit `count` blocks from block `first` on this thread, straight into the result's arrays. */
function fitHere(
  values: Float32Array,
  result: FittedQuants,
  statistics: Float64Array,
  first: number,
  count: number,
): void {
  fitBlocks(
    values.subarray(first * blockSize, (first + count) * blockSize),
    result.quants.subarray(first * blockSize, (first + count) * blockSize),
    result.scales.subarray(first, first + count),
    result.zeros.subarray(first, first + count),
    statistics,
    count,
  )
}

/** Float values `[rows · columns]` (columns a multiple of 32) as 4-bit blocks of 32 with fitted zero points. */
export function fitZeroPoints(values: Float32Array, options: FitOptions = {}): FittedQuants {
  const blocks = values.length / blockSize
  const chunkBlocks = options.chunkBlocks ?? defaultChunkBlocks
  const result: FittedQuants = {
    quants: new Uint8Array(values.length),
    scales: new Float32Array(blocks),
    zeros: new Uint8Array(blocks),
    maximumError: 0,
    squaredError: 0,
    squaredValues: 0,
  }
  const wanted = Math.min(options.workers ?? defaultFitWorkers(), Math.ceil(blocks / chunkBlocks) - 1)
  const slots = wanted > 0 ? fitSlots(wanted, chunkBlocks) : []
  const statistics = new Float64Array(chunkBlocks * statisticsPerBlock)
  // Each round: one chunk per worker, then the next one here; the chunks are taken back in block order.
  for (let next = 0; next < blocks;) {
    const posted: Array<{ slot: FitSlot; first: number; count: number }> = []
    for (const slot of slots) {
      if (next >= blocks || !slot.usable) break
      const count = Math.min(chunkBlocks, blocks - next)
      postChunk(slot, values, next, count)
      posted.push({ slot, first: next, count })
      next += count
    }
    const own = { first: next, count: Math.min(chunkBlocks, blocks - next) }
    next += own.count
    fitHere(values, result, statistics, own.first, own.count)
    const ownStatistics = statistics.slice(0, own.count * statisticsPerBlock)
    for (const { slot, first, count } of posted) {
      if (awaitChunk(slot)) {
        result.quants.set(slot.quants.subarray(0, count * blockSize), first * blockSize)
        result.scales.set(slot.scales.subarray(0, count), first)
        result.zeros.set(slot.zeros.subarray(0, count), first)
        addStatistics(result, slot.statistics, count)
      } else {
        fitHere(values, result, statistics, first, count)
        addStatistics(result, statistics, count)
      }
    }
    addStatistics(result, ownStatistics, own.count)
  }
  return result
}
