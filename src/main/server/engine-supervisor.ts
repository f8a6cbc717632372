import { Worker } from 'node:worker_threads'
import type { MessagePortLike } from '../../shared/contract-port.ts'
import { bridgeOverPort } from '../../shared/contract-port.ts'
import {
  watchEngine,
  type EngineInstance,
  type EngineSignals,
  type SupervisedEngine,
  type WatchdogOptions,
} from '../supervision/engine-watchdog.ts'
import type { WorkerMessage } from './worker-channel.ts'

/**
 * Browser mode's engine: a worker thread watched by the engine watchdog (src/main/supervision), which answers
 * heartbeats from its event loop (worker-channel.ts). An engine that stops answering or exits is reported, its
 * requests and running jobs fail with the reason, a fresh engine starts, and clients hear `engine:health`.
 */

/** How the supervisor starts and watches its engine. */
export interface SupervisorOptions extends Omit<WatchdogOptions, 'launch'> {
  /** The worker's module (a file URL to a `.ts` file that calls `serveEngineInWorker`). */
  entry: URL
  /** Passed to the worker as `workerData` (with `entry`). */
  settings?: Record<string, unknown>
}

export type { SupervisedEngine } from '../supervision/engine-watchdog.ts'

/** The worker's contract messages as a port. */
function workerPort(worker: Worker): MessagePortLike {
  return {
    send: (message) => worker.postMessage({ channel: 'contract', message } satisfies WorkerMessage),
    onMessage(listener) {
      const handle = (data: WorkerMessage): void => {
        if (data.channel === 'contract') listener(data.message)
      }
      worker.on('message', handle)
      return () => worker.off('message', handle)
    },
    onClose(listener) {
      worker.on('exit', listener)
      return () => worker.off('exit', listener)
    },
    close: () => void worker.terminate(),
  }
}

/** Start one engine worker, its heartbeats and exit wired to the watchdog. */
function launchWorker(options: SupervisorOptions, signals: EngineSignals): EngineInstance {
  const report = options.report ?? ((message: string) => process.stderr.write(`${message}\n`))
  const worker = new Worker(new URL('./engine-worker-boot.mjs', import.meta.url), {
    workerData: { ...options.settings, entry: options.entry.href },
  })
  worker.on('message', (data: WorkerMessage) => {
    if (data.channel === 'heartbeat') signals.heartbeat()
  })
  worker.on('error', (error) => report(`The Tiller engine failed: ${error.message}`))
  // A crash (an uncaught error, a native fault) ends the thread: restart as for a hang.
  worker.on('exit', (code) => signals.exited(code))
  return {
    bridge: bridgeOverPort(workerPort(worker)),
    sendHeartbeat: (beat) => worker.postMessage({ channel: 'heartbeat', beat } satisfies WorkerMessage),
    terminate: async () => {
      await worker.terminate()
    },
  }
}

/** Start the engine worker and watch it. */
export function superviseEngine(options: SupervisorOptions): SupervisedEngine {
  return watchEngine({ ...options, launch: (signals) => launchWorker(options, signals) })
}
