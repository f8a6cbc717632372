import { afterAll, describe, expect, it } from 'vitest'
import {
  awaitChunk,
  blockSlots,
  postChunk,
  runBlockKernel,
} from '../../src/main/core/models/exporter/block-workers.ts'
import { fitZeroPoints } from '../../src/main/core/models/exporter/fitted-zero-points.ts'

/** Block `block` of `values` requantized with `levels` levels as quantize-blocks.ts specifies, with Math.round. */
function referenceBlock(values: Float32Array, block: number, levels: number) {
  const slice = values.subarray(block * 32, block * 32 + 32)
  const minimum = Math.min(0, ...slice)
  const maximum = Math.max(0, ...slice)
  const scale = maximum > minimum ? Math.fround((maximum - minimum) / levels) : 1
  const zero = Math.min(levels, Math.max(0, Math.round(-minimum / scale)))
  const quants = Array.from(slice, (value) => Math.min(levels, Math.max(0, Math.round(value / scale) + zero)))
  return { scale, zero, quants }
}

// Isolated (vitest.config.ts): a failed worker switches the workers off for the rest of the process.
describe('block kernels on worker threads', () => {
  const values = Float32Array.from({ length: 16 * 32 }, (_, at) =>
    Math.fround(((at * 7) % 23) * 0.01 - 0.05 - (at >> 5) * 0.013),
  )
  const reference = fitZeroPoints(values, { workers: 0, chunkBlocks: 4 })
  let terminated: Promise<number> | undefined
  afterAll(async () => {
    await terminated
  })

  it('fit a posted chunk in shared memory', () => {
    const [slot] = blockSlots(1, 4)
    if (slot === undefined) throw new Error('blockSlots gave no slot')
    postChunk(slot, 'fit', 15, values, 8, 4)
    expect(awaitChunk(slot)).toBe(true)
    expect(Array.from(slot.quants)).toEqual(Array.from(reference.quants.subarray(8 * 32, 12 * 32)))
    expect(Array.from(slot.scales)).toEqual(Array.from(reference.scales.subarray(8, 12)))
  })

  it('requantize to 4 and 8 bits the same with workers as alone, as the specification computes it', () => {
    for (const levels of [15, 255]) {
      const alone = runBlockKernel('requantize', values, levels, { workers: 0 })
      const parallel = runBlockKernel('requantize', values, levels, { workers: 2, chunkBlocks: 3 })
      expect(Array.from(parallel.quants)).toEqual(Array.from(alone.quants))
      expect(Array.from(parallel.scales)).toEqual(Array.from(alone.scales))
      expect(Array.from(parallel.zeros)).toEqual(Array.from(alone.zeros))
      expect(parallel.maximumError).toBe(alone.maximumError)
      let worst = 0
      for (let block = 0; block < 16; block++) {
        const expected = referenceBlock(values, block, levels)
        expect(alone.scales[block]).toBe(expected.scale)
        expect(alone.zeros[block]).toBe(expected.zero)
        expect(Array.from(alone.quants.subarray(block * 32, block * 32 + 32))).toEqual(expected.quants)
        expected.quants.forEach((quant, index) => {
          const back = Math.fround(expected.scale * (quant - expected.zero))
          worst = Math.max(worst, Math.abs(back - (values[block * 32 + index] as number)))
        })
      }
      expect(alone.maximumError).toBe(worst)
      expect(worst).toBeGreaterThan(0)
    }
  })

  it('leave a chunk its worker never picks up to the calling thread, and work alone from then on', async () => {
    const [slot] = blockSlots(1, 2)
    if (slot === undefined) throw new Error('blockSlots gave no slot')
    terminated = slot.worker.terminate()
    await terminated
    postChunk(slot, 'fit', 15, values, 0, 2)
    expect(awaitChunk(slot, 50)).toBe(false)
    expect(slot.usable).toBe(false)
    expect(blockSlots(1, 2)).toEqual([])
    const fit = fitZeroPoints(values, { workers: 2, chunkBlocks: 2 })
    expect(Array.from(fit.quants)).toEqual(Array.from(reference.quants))
    expect(fit.squaredError).toBe(reference.squaredError)
  })
})
