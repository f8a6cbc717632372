import { describe, expect, it } from 'vitest'

import { defaultGuardLimits } from './harness.ts'
import { fuzzFormatIsolated, type FormatReference } from './isolated.ts'

/**
 * The fuzz runner's guards, on formats that misbehave on purpose (helpers/misbehaving-formats.ts): each case runs
 * in a worker thread, so a synchronous infinite loop and an exhausted heap are findings naming their seed and case,
 * and the run goes on with the next case.
 */

const reference = (name: string): FormatReference => ({
  name,
  module: new URL('./helpers/misbehaving-formats.ts', import.meta.url),
})

describe('isolated fuzz runs', () => {
  it('report a case that blocks its thread for good (as a synchronous loop does) as a hang with its seed and case, and run the cases after it', async () => {
    // Ten seconds only to tell the blocked case from a case that is merely slow on a busy machine (the others return at once).
    const limits = { ...defaultGuardLimits, hangMilliseconds: 10_000 }
    const summary = await fuzzFormatIsolated(reference('blocks-at-case-2'), 5, 7, { limits })
    expect(summary.findings).toEqual([
      {
        format: 'blocks-at-case-2',
        seed: 7,
        caseIndex: 2,
        kind: 'hang',
        message: expect.stringContaining('10000 ms'),
      },
    ])
    // Cases 0 and 4 parse, 1 and 3 are refused: the run went on after the hang in a fresh worker.
    expect(summary).toMatchObject({ parsed: 2, refused: 2 })
  })

  it('report a case that exhausts the worker heap as a memory finding, and run the cases after it', async () => {
    const summary = await fuzzFormatIsolated(reference('exhausts-heap-at-case-1'), 4, 3, {
      heapMegabytes: 64,
    })
    expect(summary.findings).toEqual([
      {
        format: 'exhausts-heap-at-case-1',
        seed: 3,
        caseIndex: 1,
        kind: 'memory',
        message: expect.stringContaining('64 MB'),
      },
    ])
    expect(summary).toMatchObject({ parsed: 2, refused: 1 })
  })

  it('report a raw exception and start from the case asked for', async () => {
    const all = await fuzzFormatIsolated(reference('throws-at-case-0'), 3, 1)
    expect(all.findings).toEqual([
      {
        format: 'throws-at-case-0',
        seed: 1,
        caseIndex: 0,
        kind: 'exception',
        message: expect.stringContaining('TypeError: not a TillerError'),
      },
    ])
    expect(all).toMatchObject({ parsed: 1, refused: 1 })
    const started: number[] = []
    const later = await fuzzFormatIsolated(reference('throws-at-case-0'), 2, 1, {
      from: 1,
      onCaseStart: (caseIndex) => started.push(caseIndex),
    })
    expect(started).toEqual([1, 2])
    expect(later).toEqual({ findings: [], parsed: 1, refused: 1 })
  })
})
