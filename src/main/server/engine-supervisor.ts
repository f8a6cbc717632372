import { Worker } from 'node:worker_threads'
import { eventNames, requestNames } from '../../shared/contract-names.ts'
import { bridgeOverPort, type MessagePortLike } from '../../shared/contract-port.ts'
import type { ContractEvent, ContractService, TillerBridge, Unsubscribe } from '../../shared/contract.ts'
import type { JobKind } from '../../shared/jobs.ts'
import type { WorkerMessage } from './worker-channel.ts'

/**
 * Browser mode's engine watchdog. The engine runs in a worker thread; this side sends it a heartbeat every
 * `heartbeatMilliseconds` and, when none is answered for `unresponsiveMilliseconds` (a template or a model run
 * that never returns), reports "engine not responding", fails the requests in flight and every job the engine
 * was running with that reason (`job:done`, outcome failed), terminates the thread and starts a fresh engine.
 * Saved work is files on disk (edits, datasets, caches), which the engine writes atomically, so nothing saved is
 * lost; the restarted engine loads the model that was loaded last (`settings.model` in the worker's data). Every
 * restart is announced to clients as `engine:health` (restarting, then ready or stopped).
 */

/** How the supervisor starts and watches its engine. */
export interface SupervisorOptions {
  /** The worker's module (a file URL to a `.ts` file that calls `serveEngineInWorker`). */
  entry: URL
  /** Passed to the worker as `workerData` (with `entry`). */
  settings?: Record<string, unknown>
  heartbeatMilliseconds?: number
  unresponsiveMilliseconds?: number
  /** How long a starting engine may take to serve its first heartbeat (loading ONNX Runtime, the sources). */
  startupMilliseconds?: number
  /** Where "engine not responding" is reported (default: stderr). */
  report?: (message: string) => void
}

/** The supervised engine: the contract, plus how often it was restarted and how to stop it. */
export type SupervisedEngine = ContractService & {
  restarts(): number
  /** End the engine thread at once, as a native crash would; the supervisor restarts it as for any crash. */
  kill(): Promise<void>
  dispose(): Promise<void>
}

const notResponding = 'engine-not-responding'
const exited = 'engine-exited'
/** Restarts before giving up on an engine that cannot start (a broken installation would loop forever). */
const maximumRestarts = 5

class EngineFailure extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message)
  }
}

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

/** Start the engine worker and watch it. */
export function superviseEngine(options: SupervisorOptions): SupervisedEngine {
  const heartbeat = options.heartbeatMilliseconds ?? 1000
  const unresponsive = options.unresponsiveMilliseconds ?? 15_000
  const startup = options.startupMilliseconds ?? 120_000
  const report = options.report ?? ((message: string) => process.stderr.write(`${message}\n`))
  const listeners = new Set<(event: ContractEvent) => void>()
  const running = new Map<string, JobKind>()
  const inFlight = new Set<(error: EngineFailure) => void>()
  let worker: Worker
  let bridge: TillerBridge
  let lastAnswer = 0
  let ready = false
  let beat = 0
  let restarts = 0
  let stopped = false
  /** Why the engine was last restarted and which jobs that failed, told again once the new engine is up. */
  let lastRestart: { reason: string; failedJobs: string[] } | null = null

  /** The model the engine last loaded: a restarted engine loads it again, so the studio continues where it was. */
  let lastModel: string | null = null

  const emit = (event: ContractEvent): void => {
    if (event.name === 'model:changed' && event.payload.model !== null) lastModel = event.payload.model.path
    if (event.name === 'job:done') running.delete(event.payload.id)
    if (event.name === 'job:progress') running.set(event.payload.id, event.payload.kind)
    for (const listener of [...listeners]) listener(event)
  }

  const start = (): void => {
    worker = new Worker(new URL('./engine-worker-boot.mjs', import.meta.url), {
      workerData: {
        ...options.settings,
        ...(lastModel === null ? {} : { model: lastModel }),
        entry: options.entry.href,
      },
    })
    worker.on('message', (data: WorkerMessage) => {
      if (data.channel !== 'heartbeat') return
      lastAnswer = Date.now()
      if (!ready && lastRestart !== null) {
        emit({
          name: 'engine:health',
          payload: {
            state: 'ready',
            restarts,
            reason: lastRestart.reason,
            failedJobs: lastRestart.failedJobs,
          },
        })
      }
      ready = true
    })
    const current = worker
    current.on('error', (error) => report(`The Tiller engine failed: ${error.message}`))
    // A crash (an uncaught error, a native fault) ends the thread: restart as for a hang.
    current.on('exit', (code) => {
      if (!stopped && current === worker) {
        restart(
          exited,
          `The engine exited (code ${code}) and was restarted; run it again.`,
          'Tiller engine exited',
        )
      }
    })
    bridge = bridgeOverPort(workerPort(worker))
    for (const name of eventNames) {
      bridge.on(name, (payload) => emit({ name, payload } as ContractEvent))
    }
    lastAnswer = Date.now()
    ready = false
  }

  const restart = (code: string, reason: string, headline: string): void => {
    const giveUp = restarts >= maximumRestarts
    report(
      giveUp
        ? `${headline}; it was restarted ${restarts} times, so Tiller stops trying.`
        : `${headline}; restarting it.`,
    )
    const why = giveUp ? reason.replace(/ and was restarted; run it again\.$/, '; restart Tiller.') : reason
    for (const fail of [...inFlight]) fail(new EngineFailure(code, why))
    inFlight.clear()
    const failedJobs = [...running.keys()]
    lastRestart = { reason: why, failedJobs }
    emit({
      name: 'engine:health',
      payload: {
        state: giveUp ? 'stopped' : 'restarting',
        restarts: giveUp ? restarts : restarts + 1,
        reason: why,
        failedJobs,
      },
    })
    for (const [id, kind] of [...running]) {
      emit({
        name: 'job:done',
        payload: { id, kind, outcome: 'failed', error: { code, message: why } },
      })
    }
    running.clear()
    void worker.terminate()
    if (giveUp) {
      stopped = true
      clearInterval(timer)
      return
    }
    restarts += 1
    start()
  }

  const timer = setInterval(() => {
    if (Date.now() - lastAnswer > (ready ? unresponsive : startup)) {
      const seconds = Math.round((ready ? unresponsive : startup) / 1000)
      restart(
        notResponding,
        `The engine stopped responding for ${seconds} s and was restarted; run it again.`,
        `Tiller engine not responding (no heartbeat for ${seconds} s)`,
      )
    } else worker.postMessage({ channel: 'heartbeat', beat: ++beat } satisfies WorkerMessage)
  }, heartbeat)
  start()

  const service: Record<string, unknown> = {
    subscribe(listener: (event: ContractEvent) => void): Unsubscribe {
      listeners.add(listener)
      return () => listeners.delete(listener)
    },
    restarts: () => restarts,
    async kill() {
      await worker.terminate()
    },
    async dispose() {
      stopped = true
      clearInterval(timer)
      await worker.terminate()
    },
  }
  for (const name of requestNames) {
    service[name] = (args: unknown) =>
      new Promise((resolve, reject) => {
        if (stopped)
          return reject(new EngineFailure('disconnected', 'The engine is stopped; restart Tiller.'))
        inFlight.add(reject)
        const send = bridge[name] as (
          value: unknown,
        ) => Promise<{ ok: boolean; result?: unknown; error?: Error }>
        void send(args).then((outcome) => {
          if (!inFlight.delete(reject)) return
          if (outcome.ok) {
            const started = outcome.result as { id?: unknown; kind?: unknown } | undefined
            if (typeof started?.id === 'string' && typeof started.kind === 'string') {
              running.set(started.id, started.kind as JobKind)
            }
            resolve(outcome.result)
          } else reject(outcome.error)
        })
      })
  }
  // NOTE: built from the request name list, so its keys are exactly the contract's.
  return service as SupervisedEngine
}
