import { workerData } from 'node:worker_threads'

import { TillerError } from '../../../src/main/core/errors.ts'
import type { FuzzFormat, FuzzTarget } from '../harness.ts'

/**
 * Formats whose reader misbehaves on purpose at one case, for isolation.test.ts: a thread blocked for good, a
 * heap exhausted, a raw exception. Loaded inside the case worker only, which runs cases in order from
 * `workerData.from`, so the reader knows which case it is in by counting its calls.
 */

const firstCase = (workerData as { from?: number } | null)?.from ?? 0
let calls = 0

function misbehaving(name: string, at: number, misbehave: () => void): FuzzFormat {
  return {
    name,
    prepare: () =>
      Promise.resolve<FuzzTarget>({
        seeds: [new TextEncoder().encode('{"valid": true}')],
        structure: 'bytes',
        // Async like every real reader: its errors are rejections.
        async read() {
          const caseIndex = firstCase + calls++
          if (caseIndex === at) misbehave()
          else if (caseIndex % 2 === 1) throw new TillerError('file-corrupt', `case ${caseIndex} refused`)
          await Promise.resolve()
        },
      }),
  }
}

export const fuzzFormats: readonly FuzzFormat[] = [
  misbehaving('blocks-at-case-2', 2, () => {
    // Blocks the thread synchronously for good, like an infinite loop that no timer in this thread can interrupt,
    // without spending the CPU a spinning loop would.
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0)
  }),
  misbehaving('exhausts-heap-at-case-1', 1, () => {
    const held: number[][] = []
    for (;;) held.push(new Array<number>(1 << 20).fill(calls))
  }),
  misbehaving('throws-at-case-0', 0, () => {
    throw new TypeError('not a TillerError')
  }),
]
