import { describe, expect, it } from 'vitest'
import { runBlockKernelAsync } from '../../src/main/core/models/exporter/block-queue.ts'
import { runBlockKernel } from '../../src/main/core/models/exporter/block-workers.ts'

/** Q4_K-like blocks (16 levels with an offset) over `blocks` blocks, seeded. */
function offsetBlocks(blocks: number, seed: number): Float32Array {
  let state = seed
  const uniform = () => (state = (Math.imul(state, 1664525) + 1013904223) >>> 0) / 2 ** 32
  const values = new Float32Array(blocks * 32)
  for (let block = 0; block < blocks; block++) {
    const scale = 0.001 + 0.01 * uniform()
    const offset = (uniform() - 0.6) * 0.1
    for (let at = block * 32; at < block * 32 + 32; at++)
      values[at] = Math.fround(scale * Math.floor(16 * uniform()) + offset)
  }
  return values
}

/** The first index where two arrays differ, -1 when they are equal (toEqual is slow on millions of elements). */
function firstDifference(left: ArrayLike<number> | undefined, right: ArrayLike<number>): number {
  if (left?.length !== right.length) return 0
  for (let at = 0; at < right.length; at++) if (!Object.is(left[at], right[at])) return at
  return -1
}

describe('block kernels queued on worker threads', () => {
  it('give the synchronous run’s results for several weights at once, each split into chunks', async () => {
    // 40,000 blocks: three chunks of 16,384 (the last one short), three weights queued together, two kernels.
    const weights = [offsetBlocks(40_000, 1), offsetBlocks(20_000, 2), offsetBlocks(1, 3)]
    const runs = [
      ...weights.map((values) => ({ kernel: 'fit' as const, levels: 15, values })),
      { kernel: 'requantize' as const, levels: 255, values: weights[1] as Float32Array },
    ]
    const queued = await Promise.all(
      runs.map(({ kernel, levels, values }) => runBlockKernelAsync(kernel, values, levels)),
    )
    for (const [index, { kernel, levels, values }] of runs.entries()) {
      const alone = runBlockKernel(kernel, values, levels, { workers: 0 })
      const result = queued[index]
      expect(firstDifference(result?.quants, alone.quants), `run ${index} quants`).toBe(-1)
      expect(firstDifference(result?.scales, alone.scales), `run ${index} scales`).toBe(-1)
      expect(firstDifference(result?.zeros, alone.zeros), `run ${index} zeros`).toBe(-1)
      expect([result?.squaredError, result?.squaredValues, result?.maximumError]).toEqual([
        alone.squaredError,
        alone.squaredValues,
        alone.maximumError,
      ])
    }
    expect(queued[0]?.squaredError).toBeGreaterThan(0)
  })

  it('resolves an empty weight at once', async () => {
    const result = await runBlockKernelAsync('fit', new Float32Array(0), 15)
    expect(result.quants.length).toBe(0)
    expect(result.squaredError).toBe(0)
  })
})
