import { describe, expect, it } from 'vitest'
import {
  fitBlocks,
  fitBlocksSimd,
  requantizeBlocks,
  requantizeBlocksSimd,
  type FitKernel,
} from '../../src/main/core/models/exporter/block-kernels.ts'
import { blockSlots } from '../../src/main/core/models/exporter/block-workers.ts'
import { fitKernelModule } from '../../src/main/core/models/exporter/fit-kernel-module.ts'
import { webAssembly } from '../../src/main/core/wasm/encoding.ts'
import { fitZeroPoints } from '../../src/main/core/models/exporter/fitted-zero-points.ts'

/** Weight `at` as MatMulNBits computes it: scale · (quant − zero point), in float32. */
function dequantized(fit: ReturnType<typeof fitZeroPoints>, at: number): number {
  const block = at >> 5
  return Math.fround(
    (fit.scales[block] as number) * ((fit.quants[at] as number) - (fit.zeros[block] as number)),
  )
}

/** Σ (x − s·(q − z))² of block `block` on the plain min/max grid over [min(x, 0), max(x, 0)] in 15 steps. */
function minMaxError(values: Float32Array, block: number): number {
  const slice = values.subarray(block * 32, block * 32 + 32)
  const lowest = Math.min(0, ...slice)
  const scale = Math.fround((Math.max(0, ...slice) - lowest) / 15)
  const zero = Math.min(15, Math.max(0, Math.round(-lowest / scale)))
  return slice.reduce((sum, value) => {
    const quant = Math.min(15, Math.max(0, Math.round(value / scale) + zero))
    return sum + (Math.fround(scale * (quant - zero)) - value) ** 2
  }, 0)
}

/** A quant's level before clamping, as the search rounds: floor(x / s + 0.5) in float32. */
function rounded(value: number, scale: number): number {
  return Math.floor(Math.fround(Math.fround(value / scale) + 0.5))
}

/** Σ over a block of `terms` (each already float32) as four float32 lanes (value i in lane i mod 4), (l₀ + l₂) + (l₁ + l₃). */
function laneSum(terms: number[]): number {
  const lanes = [0, 0, 0, 0]
  terms.forEach((term, index) => {
    lanes[index % 4] = Math.fround((lanes[index % 4] as number) + term)
  })
  const [first, second, third, fourth] = lanes as [number, number, number, number]
  return Math.fround(Math.fround(first + third) + Math.fround(second + fourth))
}

/**
 * The search of fitted-zero-points.ts written from its definition: each block's (scale, zero point) pair, for
 * comparing the kernel with bit for bit.
 */
function referenceFit(block: Float32Array): { scale: number; zero: number } {
  const lowest = Math.min(0, ...block)
  const highest = Math.max(0, ...block)
  let best = { scale: 1, zero: 0, error: Infinity }
  if (highest === lowest) return best
  for (const steps of [15, 14, 14.5, 15.5, 16]) {
    let scale = Math.fround((highest - lowest) / steps)
    for (let round = 0; round <= 2 && scale > 0; round++) {
      const zero = Math.min(15, Math.max(0, Math.round(-lowest / scale)))
      const levels = Array.from(
        block,
        (value) => Math.min(15, Math.max(0, rounded(value, scale) + zero)) - zero,
      )
      const error = laneSum(
        levels.map((level, at) =>
          Math.fround(Math.fround(Math.fround(scale * level) - (block[at] as number)) ** 2),
        ),
      )
      const numerator = laneSum(levels.map((level, at) => Math.fround((block[at] as number) * level)))
      const denominator = laneSum(levels.map((level) => level * level))
      if (error < best.error) best = { scale, zero, error }
      const refined = denominator > 0 ? Math.fround(numerator / denominator) : scale
      if (refined === scale) break
      scale = refined
    }
  }
  return best
}

describe('4-bit blocks with fitted integer zero points', () => {
  it('chooses each block as the search defines it, also where value/scale lies on a half', () => {
    let state = 7
    const random = (): number => {
      state = (Math.imul(state, 1664525) + 1013904223) >>> 0
      return state / 4294967296
    }
    const blocks: number[][] = []
    // Steps with short mantissas: a block spanning 15 steps gets that scale on its first try, and (k + 0.5)·step puts
    // value/scale exactly on a half, where the kernel's floor(x + 0.5) must round as Math.round does.
    for (const step of [49 / 128, 49 / 1024, 3 / 32])
      for (let variant = 0; variant < 32; variant++)
        blocks.push(
          Array.from({ length: 32 }, (_, at) =>
            at === 0 ? 15 * step : (step * Math.floor(random() * 30)) / 2,
          ),
        )
    // Q4_K-like levels with offsets, Gaussian-ish and uniform values, tiny and large magnitudes.
    for (let variant = 0; variant < 512; variant++) {
      const magnitude = 10 ** (Math.floor(random() * 12) - 8)
      const offset = (random() - 0.5) * 8 * magnitude
      blocks.push(
        Array.from({ length: 32 }, () =>
          variant % 2 === 0
            ? magnitude * Math.floor(random() * 16) + offset
            : magnitude * (random() + random() + random() - 1.5) * 4,
        ),
      )
    }
    const values = Float32Array.from(blocks.flat(), (value) => Math.fround(value))
    const fit = fitZeroPoints(values, { workers: 0 })
    for (let block = 0; block < blocks.length; block++) {
      const slice = values.subarray(block * 32, block * 32 + 32)
      const expected = referenceFit(slice)
      expect([fit.scales[block], fit.zeros[block]], `block ${block}`).toEqual([expected.scale, expected.zero])
      for (let at = 0; at < 32; at++) {
        const quant = Math.min(15, Math.max(0, rounded(slice[at] as number, expected.scale) + expected.zero))
        expect(fit.quants[block * 32 + at], `block ${block} [${at}]`).toBe(quant)
      }
    }
  })

  it('finds a block that already lies on a 4-bit grid with an integer zero point exactly', () => {
    // scale 0.125 (a power of two, so every product is exact), zero point 5, every level 0..15 present.
    const levels = Array.from({ length: 32 }, (_, at) => (at * 7) % 16)
    const values = Float32Array.from(levels, (level) => 0.125 * (level - 5))
    const fit = fitZeroPoints(values)
    expect(fit.zeros[0]).toBe(5)
    expect(fit.scales[0]).toBe(0.125)
    expect(Array.from(fit.quants)).toEqual(levels)
    expect(fit.squaredError).toBe(0)
    expect(fit.maximumError).toBe(0)
  })

  it('writes an all-zero block as zeros', () => {
    const fit = fitZeroPoints(new Float32Array(32))
    expect(Array.from(fit.quants)).toEqual(new Array(32).fill(0))
    expect(fit.zeros[0]).toBe(0)
    expect(fit.squaredError).toBe(0)
    expect(fit.squaredValues).toBe(0)
  })

  it('keeps quants and zero points in 0..15, never does worse than the min/max grid, and reports its error', () => {
    // Q4_1-like blocks: s·q + o with offsets that are not whole steps, one all-positive block, one constant block.
    const scales = [0.02, 0.05, 0.01, 0]
    const offsets = [-0.048, 0.015, 0.3, 0.25]
    const values = Float32Array.from({ length: 128 }, (_, at) =>
      Math.fround(
        (scales[at >> 5] as number) * (((at * 5 + 1) % 16) as number) + (offsets[at >> 5] as number),
      ),
    )
    const fit = fitZeroPoints(values)
    let squaredError = 0
    let maximumError = 0
    for (let at = 0; at < values.length; at++) {
      expect(fit.quants[at]).toBeLessThanOrEqual(15)
      const gap = dequantized(fit, at) - (values[at] as number)
      squaredError += gap * gap
      maximumError = Math.max(maximumError, Math.abs(gap))
    }
    for (let block = 0; block < 4; block++) {
      expect(fit.zeros[block]).toBeLessThanOrEqual(15)
      const blockError = values
        .subarray(block * 32, block * 32 + 32)
        .reduce((sum, value, index) => sum + (dequantized(fit, block * 32 + index) - value) ** 2, 0)
      expect(blockError).toBeLessThanOrEqual(minMaxError(values, block) * (1 + 1e-6) + 1e-12)
    }
    expect(fit.squaredError).toBeCloseTo(squaredError, 10)
    expect(fit.maximumError).toBeCloseTo(maximumError, 7)
    expect(fit.squaredValues).toBeCloseTo(
      values.reduce((sum, value) => sum + value * value, 0),
      6,
    )
    // Block 0's offset is 2.4 of its steps: keeping its quants and rounding the zero point to 2 would move all 32
    // weights by 0.4·s; the fit does better.
    const block0 = values
      .subarray(0, 32)
      .reduce((sum, value, index) => sum + (dequantized(fit, index) - value) ** 2, 0)
    expect(block0).toBeGreaterThan(0)
    expect(block0).toBeLessThan(32 * (0.4 * 0.02) ** 2)
  })
  it('gives the same quants, scales, zero points and statistics with worker threads as on one thread', () => {
    // 37 blocks in chunks of 4: ten chunks over two workers and this thread, the last one short. Blocks with
    // offsets, all-zero and constant blocks, and one spanning a wide range.
    let state = 12345
    const uniform = () => (state = (state * 1103515245 + 12345) >>> 0) / 2 ** 32
    const values = new Float32Array(37 * 32)
    for (let block = 0; block < 37; block++) {
      const scale = block === 5 ? 0 : 0.01 + 0.05 * uniform()
      const offset = block === 9 ? 0 : (uniform() - 0.6) * (block === 20 ? 30 : 0.3)
      for (let at = block * 32; at < block * 32 + 32; at++)
        values[at] = Math.fround(scale * Math.floor(16 * uniform()) + offset)
    }
    values.fill(0, 9 * 32, 10 * 32)
    const alone = fitZeroPoints(values, { workers: 0, chunkBlocks: 4 })
    const parallel = fitZeroPoints(values, { workers: 2, chunkBlocks: 4 })
    const oneChunk = fitZeroPoints(values, { workers: 0, chunkBlocks: 64 })
    for (const other of [parallel, oneChunk]) {
      expect(Array.from(other.quants)).toEqual(Array.from(alone.quants))
      expect(Array.from(other.scales)).toEqual(Array.from(alone.scales))
      expect(Array.from(other.zeros)).toEqual(Array.from(alone.zeros))
      expect([other.squaredError, other.squaredValues, other.maximumError]).toEqual([
        alone.squaredError,
        alone.squaredValues,
        alone.maximumError,
      ])
    }
    expect(alone.squaredError).toBeGreaterThan(0)
    expect(Array.from(alone.quants.subarray(9 * 32, 10 * 32))).toEqual(new Array(32).fill(0))
    // The workers did fit: rounds of 4 + 4 + 4 blocks, so the second worker's last chunk was blocks 28..31.
    const second = blockSlots(2, 4)[1]
    expect(Array.from(second?.scales ?? [])).toEqual(Array.from(alone.scales.subarray(28, 32)))
  })

  it('writes the same bytes with the WebAssembly kernels as with the JavaScript ones, which this runtime compiles', () => {
    // Q4_K-like 16-level grids with offsets, Gaussian-ish blocks, all-zero blocks and magnitudes from 1e-8 to 1e3,
    // in two calls on one kernel instance (the second smaller, over memory the first left behind).
    let state = 99
    const uniform = () => (state = (Math.imul(state, 1664525) + 1013904223) >>> 0) / 2 ** 32
    const blocks = 3000
    const values = new Float32Array(blocks * 32)
    for (let block = 0; block < blocks; block++) {
      const magnitude = 10 ** (Math.floor(uniform() * 12) - 8)
      const offset = (uniform() - 0.5) * 8 * magnitude
      for (let at = block * 32; at < block * 32 + 32; at++)
        values[at] =
          block % 7 === 3
            ? 0
            : block % 2 === 0
              ? magnitude * Math.floor(uniform() * 16) + offset
              : magnitude * (uniform() + uniform() + uniform() - 1.5) * 4
    }
    const kernel = new webAssembly.Instance(new webAssembly.Module(fitKernelModule()), {})
      .exports as unknown as FitKernel
    const outputs = (count: number) => ({
      quants: new Uint8Array(count * 32),
      scales: new Float32Array(count),
      zeros: new Uint8Array(count),
      statistics: new Float64Array(count * 3),
    })
    for (const [first, count] of [
      [0, blocks],
      [1000, 333],
    ] as const) {
      const slice = values.subarray(first * 32, (first + count) * 32)
      const script = outputs(count)
      const simd = outputs(count)
      fitBlocks(slice, script.quants, script.scales, script.zeros, script.statistics, count)
      fitBlocksSimd(slice, simd.quants, simd.scales, simd.zeros, simd.statistics, count, kernel)
      expect(simd.quants).toEqual(script.quants)
      expect(simd.scales).toEqual(script.scales)
      expect(simd.zeros).toEqual(script.zeros)
      expect(simd.statistics).toEqual(script.statistics)
      expect(script.statistics[0]).toBeGreaterThan(0)
      // The min/max requantizer of other sources (float, Q8_0, Q6_K) at 4 and 8 bits, in the same module.
      for (const levels of [15, 255]) {
        const requantized = outputs(count)
        const requantizedSimd = outputs(count)
        const arrays = (into: ReturnType<typeof outputs>) =>
          [slice, into.quants, into.scales, into.zeros, into.statistics, count, levels] as const
        requantizeBlocks(...arrays(requantized))
        requantizeBlocksSimd(...arrays(requantizedSimd), kernel)
        expect(requantizedSimd.quants).toEqual(requantized.quants)
        expect(requantizedSimd.scales).toEqual(requantized.scales)
        expect(requantizedSimd.zeros).toEqual(requantized.zeros)
        expect(requantizedSimd.statistics).toEqual(requantized.statistics)
        expect(Math.max(...requantized.statistics)).toBeGreaterThan(0)
      }
    }
  })
})
