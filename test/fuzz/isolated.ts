import { Worker } from 'node:worker_threads'

import {
  defaultGuardLimits,
  type CaseResult,
  type Finding,
  type FuzzSummary,
  type GuardLimits,
} from './harness.ts'

/**
 * Runs a format's fuzz cases in a worker thread that is terminated when a case does not answer in time, so a
 * synchronous infinite loop — which no in-process timer can interrupt — is reported as a hang with its seed and
 * case, and the run goes on with the next case in a fresh worker. The worker's heap is capped too: a case that
 * exhausts it ends the worker, and is reported as a memory finding.
 */

/** What the parent tells a case worker. */
export interface CaseWorkerData {
  /** The worker's entry, booted through tsx by worker-boot.mjs. */
  entry: string
  /** Module (file URL) whose `fuzzFormats` list holds the format. */
  module: string
  format: string
  runSeed: number
  from: number
  to: number
  limits: GuardLimits
  /** `Error.stackTraceLimit` inside the worker, when set. */
  stackTraceLimit?: number
}

/** What a case worker reports. */
export type WorkerReport =
  | { kind: 'started'; caseIndex: number }
  | { kind: 'result'; caseIndex: number; result: CaseResult }
  | { kind: 'finished' }

/** Where the format lives: its name in the `fuzzFormats` list of a module. */
export interface FormatReference {
  name: string
  module: URL
}

/** A format of formats.ts, by name, so the parent never imports (or prepares) the formats itself. */
export function formatReference(name: string): FormatReference {
  return { name, module: new URL('./formats.ts', import.meta.url) }
}

export interface IsolatedOptions {
  limits?: GuardLimits
  /** The worker's old-generation heap cap in MB (default: the memory limit, 1 GB). */
  heapMegabytes?: number
  /** First case to run (default 0). */
  from?: number
  onCaseStart?: (caseIndex: number) => void
  /** `Error.stackTraceLimit` inside the worker (long runs raise it so a stack overflow still shows its frame). */
  stackTraceLimit?: number
}

type WorkerEnd = { next: number } | { done: true }

/** Run cases `from`..`from + cases` − 1 of `format` from `runSeed`, each worker restarted after a hang or crash. */
export async function fuzzFormatIsolated(
  format: FormatReference,
  cases: number,
  runSeed: number,
  options: IsolatedOptions = {},
): Promise<FuzzSummary> {
  const limits = options.limits ?? defaultGuardLimits
  const heapMegabytes = options.heapMegabytes ?? Math.round(limits.memoryGrowthBytes / 1024 ** 2)
  const end = (options.from ?? 0) + cases
  const summary: FuzzSummary = { findings: [], parsed: 0, refused: 0 }
  const finding = (caseIndex: number, kind: Finding['kind'], message: string): void => {
    summary.findings.push({ format: format.name, seed: runSeed, caseIndex, kind, message })
  }

  const runWorker = (from: number): Promise<WorkerEnd> =>
    new Promise((resolve, reject) => {
      const data: CaseWorkerData = {
        entry: new URL('./case-worker.ts', import.meta.url).href,
        module: format.module.href,
        format: format.name,
        runSeed,
        from,
        to: end,
        limits,
        ...(options.stackTraceLimit === undefined ? {} : { stackTraceLimit: options.stackTraceLimit }),
      }
      const worker = new Worker(new URL('./worker-boot.mjs', import.meta.url), {
        workerData: data,
        resourceLimits: { maxOldGenerationSizeMb: heapMegabytes },
      })
      let current: number | undefined
      let settled = false
      let timer: NodeJS.Timeout | undefined
      const finish = (result: WorkerEnd | Error): void => {
        if (settled) return
        settled = true
        clearTimeout(timer)
        void worker.terminate()
        if (result instanceof Error) reject(result)
        else resolve(result)
      }
      // A case that stopped the worker: report it and go on after it. Outside a case (the format's setup) is an error.
      const stopped = (kind: Finding['kind'], message: string): void => {
        // An error event is followed by the exit event: one finding per stop.
        if (settled) return
        if (current === undefined) {
          finish(new Error(`The ${format.name} fuzz worker failed outside any case: ${message}`))
          return
        }
        finding(current, kind, message)
        finish({ next: current + 1 })
      }
      worker.on('message', (report: WorkerReport) => {
        clearTimeout(timer)
        if (report.kind === 'started') {
          current = report.caseIndex
          options.onCaseStart?.(report.caseIndex)
          timer = setTimeout(
            () =>
              stopped('hang', `no answer within ${limits.hangMilliseconds} ms (the worker was terminated)`),
            limits.hangMilliseconds,
          )
        } else if (report.kind === 'result') {
          if (report.result.outcome === 'finding') summary.findings.push(report.result.finding)
          else summary[report.result.outcome]++
          current = undefined
        } else finish({ done: true })
      })
      worker.on('error', (error: Error & { code?: string }) => {
        if (error.code === 'ERR_WORKER_OUT_OF_MEMORY')
          stopped('memory', `the worker ran out of its ${heapMegabytes} MB heap`)
        else stopped('exception', `${error.name}: ${error.message.slice(0, 300)}`)
      })
      worker.on('exit', (code) => stopped('exception', `the worker exited with code ${code}`))
    })

  let from = options.from ?? 0
  while (from < end) {
    const result = await runWorker(from)
    if ('done' in result) break
    from = result.next
  }
  return summary
}
