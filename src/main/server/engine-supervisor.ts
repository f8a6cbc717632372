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

/**
 * Start one engine worker, its heartbeats and exit wired to the watchdog. `model` is the folder the previous engine
 * had loaded, so a restarted engine loads it again and the studio continues where it was.
 */
function launchWorker(options: SupervisorOptions, signals: EngineSignals, model: string | null): Worker {
  const worker = new Worker(new URL('./engine-worker-boot.mjs', import.meta.url), {
    workerData: { ...options.settings, ...(model === null ? {} : { model }), entry: options.entry.href },
  })
  worker.on('message', (data: WorkerMessage) => {
    if (data.channel === 'heartbeat') signals.heartbeat()
  })
  const report = options.report ?? ((message: string) => process.stderr.write(`${message}\n`))
  worker.on('error', (error) => report(`The Tiller engine failed: ${error.message}`))
  // A crash (an uncaught error, a native fault) ends the thread: restart as for a hang.
  worker.on('exit', (code) => signals.exited(code))
  return worker
}

/** The watched worker engine, plus a way to end its thread at once (tests of the restart path). */
export type WorkerEngine = SupervisedEngine & {
  /** End the engine thread as a native crash would; the watchdog restarts it as for any crash. */
  kill(): Promise<void>
}

/** Start the engine worker and watch it. */
export function superviseEngine(options: SupervisorOptions): WorkerEngine {
  let lastModel: string | null = null
  let current: Worker | null = null
  const launch = (signals: EngineSignals): EngineInstance => {
    const worker = launchWorker(options, signals, lastModel)
    current = worker
    return {
      bridge: bridgeOverPort(workerPort(worker)),
      sendHeartbeat: (beat) => worker.postMessage({ channel: 'heartbeat', beat } satisfies WorkerMessage),
      terminate: async () => {
        await worker.terminate()
      },
    }
  }
  const engine = watchEngine({ ...options, launch })
  engine.subscribe((event) => {
    if (event.name === 'model:changed' && event.payload.model !== null) lastModel = event.payload.model.path
  })
  return Object.assign(engine, {
    async kill() {
      await current?.terminate()
    },
  })
}
