import { afterAll, describe, expect, it } from 'vitest'
import { awaitChunk, fitSlots, postChunk } from '../../src/main/core/models/exporter/fit-workers.ts'
import { fitZeroPoints } from '../../src/main/core/models/exporter/fitted-zero-points.ts'

// Isolated (vitest.config.ts): a failed worker switches the workers off for the rest of the process.
describe('fit worker threads', () => {
  const values = Float32Array.from({ length: 16 * 32 }, (_, at) => Math.fround(((at * 7) % 23) * 0.01 - 0.05))
  const reference = fitZeroPoints(values, { workers: 0, chunkBlocks: 4 })
  let terminated: Promise<number> | undefined
  afterAll(async () => {
    await terminated
  })

  it('fit a posted chunk in shared memory', () => {
    const [slot] = fitSlots(1, 4)
    if (slot === undefined) throw new Error('fitSlots gave no slot')
    postChunk(slot, values, 8, 4)
    expect(awaitChunk(slot)).toBe(true)
    expect(Array.from(slot.quants)).toEqual(Array.from(reference.quants.subarray(8 * 32, 12 * 32)))
    expect(Array.from(slot.scales)).toEqual(Array.from(reference.scales.subarray(8, 12)))
  })

  it('leave a chunk its worker never picks up to the calling thread, and fit alone from then on', async () => {
    const [slot] = fitSlots(1, 2)
    if (slot === undefined) throw new Error('fitSlots gave no slot')
    terminated = slot.worker.terminate()
    await terminated
    postChunk(slot, values, 0, 2)
    expect(awaitChunk(slot, 50)).toBe(false)
    expect(slot.usable).toBe(false)
    expect(fitSlots(1, 2)).toEqual([])
    const fit = fitZeroPoints(values, { workers: 2, chunkBlocks: 2 })
    expect(Array.from(fit.quants)).toEqual(Array.from(reference.quants))
    expect(fit.squaredError).toBe(reference.squaredError)
  })
})
