import { parentPort, workerData } from 'node:worker_threads'

import { runCase, type FuzzFormat } from './harness.ts'
import type { CaseWorkerData, WorkerReport } from './isolated.ts'

/**
 * Inside a fuzz worker thread: prepare one format's target, then run cases `from`..`to` − 1 in order, saying
 * which case starts before running it, so the parent can name the case a synchronous loop or a crash stopped in.
 */
const settings = workerData as CaseWorkerData
const parent = parentPort
if (parent === null) throw new Error('case-worker.ts runs inside a worker thread only.')
if (settings.stackTraceLimit !== undefined) Error.stackTraceLimit = settings.stackTraceLimit
const { fuzzFormats } = (await import(settings.module)) as { fuzzFormats: readonly FuzzFormat[] }
const format = fuzzFormats.find((candidate) => candidate.name === settings.format)
if (format === undefined) throw new Error(`${settings.module} has no fuzz format ${settings.format}`)
const target = await format.prepare()
try {
  for (let caseIndex = settings.from; caseIndex < settings.to; caseIndex++) {
    parent.postMessage({ kind: 'started', caseIndex } satisfies WorkerReport)
    const result = await runCase(format.name, target, settings.runSeed, caseIndex, settings.limits)
    parent.postMessage({ kind: 'result', caseIndex, result } satisfies WorkerReport)
  }
} finally {
  await target.dispose?.()
}
parent.postMessage({ kind: 'finished' } satisfies WorkerReport)
