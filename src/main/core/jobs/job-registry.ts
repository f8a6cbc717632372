import { randomUUID } from 'node:crypto'
import { toErrorInfo } from '../../../shared/contract-port.ts'
import type { ContractEvent } from '../../../shared/contract.ts'
import type { JobInfo, JobKind, JobResults, JobStarted } from '../../../shared/jobs.ts'
import { isTillerError } from '../errors.ts'

/**
 * Long work as first-class jobs: an id, progress events, cancellation through an AbortSignal, and exactly one
 * `job:done` event per job.
 *
 * Outcomes: a job whose work resolves has succeeded, even when it was cancelled midway and returned what it had
 * (a generation stopped early says so in its own result); a job whose work rejects after cancellation, or with
 * a `cancelled` TillerError, was cancelled; any other rejection failed.
 */

/** What a job's work receives. */
export interface JobContext {
  id: string
  signal: AbortSignal
  /** Report progress: a fraction in [0, 1] (or null while unknown) and a short message. */
  progress(fraction: number | null, message: string): void
}

interface RunningJob {
  info: JobInfo
  controller: AbortController
  settled: Promise<void>
}

/** Registry of running jobs; events go to `emit`. */
export class JobRegistry {
  private readonly running = new Map<string, RunningJob>()
  private readonly emit: (event: ContractEvent) => void

  constructor(emit: (event: ContractEvent) => void) {
    this.emit = emit
  }

  /**
   * Start `work` as a job and return its id at once. The work begins on a later macrotask, so the caller's
   * answer (carrying the id) reaches the client before any of the job's events.
   */
  start<K extends JobKind>(
    kind: K,
    label: string,
    work: (context: JobContext) => Promise<JobResults[K]>,
  ): JobStarted & { kind: K } {
    const id = randomUUID()
    const controller = new AbortController()
    const info: JobInfo = { id, kind, label, startedAt: Date.now(), fraction: null, message: 'Starting…' }
    const context: JobContext = {
      id,
      signal: controller.signal,
      progress: (fraction, message) => {
        if (!this.running.has(id)) return
        info.fraction = fraction === null ? null : Math.min(1, Math.max(0, fraction))
        info.message = message
        this.emit({ name: 'job:progress', payload: { id, kind, fraction: info.fraction, message } })
      },
    }
    const settled = new Promise<void>((resolve) => setTimeout(resolve, 0))
      .then(() => work(context))
      .then(
        (result) => {
          this.running.delete(id)
          // NOTE: K ties `result` to `kind`; TypeScript cannot correlate them through the union, hence the cast.
          this.emit({ name: 'job:done', payload: { id, kind, outcome: 'succeeded', result } as never })
        },
        (error: unknown) => {
          this.running.delete(id)
          if (controller.signal.aborted || isTillerError(error, 'cancelled')) {
            this.emit({ name: 'job:done', payload: { id, kind, outcome: 'cancelled' } })
          } else {
            this.emit({
              name: 'job:done',
              payload: { id, kind, outcome: 'failed', error: toErrorInfo(error) },
            })
          }
        },
      )
    this.running.set(id, { info, controller, settled })
    return { id, kind }
  }

  /** Ask a running job to stop; false when no such job is running. */
  cancel(id: string): boolean {
    const job = this.running.get(id)
    if (job === undefined) return false
    job.controller.abort()
    return true
  }

  /** Running jobs, oldest first. */
  list(kind?: JobKind): JobInfo[] {
    return [...this.running.values()]
      .map((job) => ({ ...job.info }))
      .filter((info) => kind === undefined || info.kind === kind)
  }

  /** Cancel every running job of `kind` and wait until each has sent its `job:done`. */
  async cancelAll(kind: JobKind): Promise<void> {
    const jobs = [...this.running.values()].filter((job) => job.info.kind === kind)
    for (const job of jobs) job.controller.abort()
    await Promise.all(jobs.map((job) => job.settled))
  }

  /** Resolves once the job has sent its `job:done` (immediately for an unknown id). */
  async settled(id: string): Promise<void> {
    await this.running.get(id)?.settled
  }
}
