import type { ErrorInfo } from './jobs.ts'

/**
 * Whether the engine is answering, as the process that hosts it (Electron's main process, browser mode's server
 * thread) sees it through a heartbeat. Sent as the `engine:health` event whenever it changes.
 *
 * - `starting`: a fresh engine is loading and has not answered its first heartbeat yet.
 * - `ready`: the engine answers heartbeats.
 * - `restarting`: the engine stopped answering (`reason.code` `engine-not-responding`) or exited
 *   (`engine-exited`); its requests and running jobs failed with `reason`, and a fresh engine is starting. The
 *   loaded model is gone: load it again once the state is `ready`.
 * - `stopped`: the engine failed again after the last allowed restart; Tiller has to be restarted.
 */
export interface EngineHealth {
  state: 'starting' | 'ready' | 'restarting' | 'stopped'
  /** Why the engine last restarted or stopped, one sentence; null before any failure. */
  reason: ErrorInfo | null
  /** Restarts so far. */
  restarts: number
  /** Jobs that were running when the engine failed and were failed with `reason` (empty otherwise). */
  failedJobs: string[]
}
