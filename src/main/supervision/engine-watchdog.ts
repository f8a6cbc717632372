import { eventNames, requestNames } from '../../shared/contract-names.ts'
import type { ContractEvent, ContractService, TillerBridge, Unsubscribe } from '../../shared/contract.ts'
import type { EngineHealth } from '../../shared/engine-health.ts'
import type { ErrorInfo, JobKind } from '../../shared/jobs.ts'

/**
 * The engine's watchdog, whatever hosts the engine (a child process in browser mode, Electron's utility process
 * in the desktop app). It sends the engine a heartbeat every `heartbeatMilliseconds`; when none is answered for
 * `unresponsiveMilliseconds` (a template or a model run that never returns) or the engine exits, it fails the
 * requests in flight and every job the engine was running with the reason (`job:done`, outcome failed), stops
 * that engine and starts a fresh one, and tells every client through the `engine:health` event. Saved work is
 * files the engine writes atomically, so nothing saved is lost; the fresh engine has no model loaded.
 */

/** What the watchdog hears from one running engine. */
export interface EngineSignals {
  /** The engine answered a heartbeat (or announced itself ready). */
  heartbeat(): void
  /** The engine's process or thread ended. */
  exited(code: number | null): void
}

/** One running engine, as its host started it. */
export interface EngineInstance {
  /** The contract over the engine's channel. */
  bridge: TillerBridge
  /** Ask for a heartbeat; the engine answers through `EngineSignals.heartbeat`. */
  sendHeartbeat(beat: number): void
  /** Stop the engine (a hung one too). */
  terminate(): Promise<void> | void
}

/** Starts an engine and wires its signals. */
export type EngineLauncher = (signals: EngineSignals) => EngineInstance

/** Time, injectable so the watchdog is tested without waiting. */
export interface WatchdogClock {
  now(): number
  /** Call `tick` every `milliseconds` until the returned function is called. */
  every(milliseconds: number, tick: () => void): () => void
}

/** The system clock. */
export const systemClock: WatchdogClock = {
  now: () => Date.now(),
  every(milliseconds, tick) {
    const timer = setInterval(tick, milliseconds)
    return () => clearInterval(timer)
  },
}

/** How the watchdog starts and watches its engine. */
export interface WatchdogOptions {
  launch: EngineLauncher
  heartbeatMilliseconds?: number
  unresponsiveMilliseconds?: number
  /** How long a starting engine may take to answer its first heartbeat (loading ONNX Runtime, the sources). */
  startupMilliseconds?: number
  /** Restarts before giving up on an engine that keeps failing (a broken installation would loop forever). */
  maximumRestarts?: number
  /** Where "engine not responding" is reported (default: stderr). */
  report?: (message: string) => void
  clock?: WatchdogClock
}

/** The watched engine: the contract (with `engine:health` events), plus its health and how to stop it. */
export type SupervisedEngine = ContractService & {
  restarts(): number
  health(): EngineHealth
  dispose(): Promise<void>
}

export const notRespondingCode = 'engine-not-responding'
export const exitedCode = 'engine-exited'

/**
 * How the engine ended, in a user's words: `code` as a shell reports it (128 + the signal number for a signal).
 * SIGKILL is what the system's out-of-memory killer sends, so that case says what to do about memory.
 */
export function describeExit(code: number | null): string {
  switch (code) {
    case 137:
      return (
        'was killed by the system (SIGKILL, exit code 137: usually memory ran out; close other programs, or load a ' +
        'smaller or quantized model)'
      )
    case 134:
      return 'aborted (SIGABRT, exit code 134: a native library such as ONNX Runtime stopped it)'
    case 139:
      return 'crashed (SIGSEGV, exit code 139: a fault in native code)'
    case null:
      return 'exited without an exit code'
    default:
      return `exited (code ${code})`
  }
}

/** A request failure the watchdog makes, carrying a code like a TillerError. */
class EngineFailure extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message)
  }
}

/** Start an engine with `options.launch` and watch it. */
export function watchEngine(options: WatchdogOptions): SupervisedEngine {
  const heartbeat = options.heartbeatMilliseconds ?? 1000
  const unresponsive = options.unresponsiveMilliseconds ?? 15_000
  const startup = options.startupMilliseconds ?? 120_000
  const maximumRestarts = options.maximumRestarts ?? 5
  const clock = options.clock ?? systemClock
  const report = options.report ?? ((message: string) => process.stderr.write(`${message}\n`))
  const listeners = new Set<(event: ContractEvent) => void>()
  const running = new Map<string, JobKind>()
  const inFlight = new Set<(error: EngineFailure) => void>()
  let instance: EngineInstance
  // Each launch gets a generation: signals and events of an engine already replaced are ignored.
  let generation = 0
  let lastAnswer = 0
  let beat = 0
  let restarts = 0
  let stopped = false
  let health: EngineHealth = { state: 'starting', reason: null, restarts: 0, failedJobs: [] }

  const emit = (event: ContractEvent): void => {
    if (event.name === 'job:done') running.delete(event.payload.id)
    if (event.name === 'job:progress') running.set(event.payload.id, event.payload.kind)
    for (const listener of [...listeners]) listener(event)
  }
  const setHealth = (next: EngineHealth): void => {
    health = next
    emit({ name: 'engine:health', payload: next })
  }

  const start = (): void => {
    const mine = ++generation
    instance = options.launch({
      heartbeat() {
        if (mine !== generation || stopped) return
        lastAnswer = clock.now()
        if (health.state !== 'ready') setHealth({ ...health, state: 'ready', failedJobs: [] })
      },
      exited(code) {
        if (mine !== generation || stopped) return
        restart(
          { code: exitedCode, message: `The engine ${describeExit(code)} and was restarted; run it again.` },
          'Tiller engine exited',
        )
      },
    })
    for (const name of eventNames) {
      instance.bridge.on(name, (payload) => {
        if (mine === generation) emit({ name, payload } as ContractEvent)
      })
    }
    lastAnswer = clock.now()
  }

  const restart = (reason: ErrorInfo, headline: string): void => {
    const giveUp = restarts >= maximumRestarts
    report(
      giveUp
        ? `${headline}; it was restarted ${restarts} times, so Tiller stops trying.`
        : `${headline}; restarting it.`,
    )
    const why: ErrorInfo = giveUp
      ? {
          ...reason,
          message: reason.message.replace(/ and was restarted; run it again\.$/, '; restart Tiller.'),
        }
      : reason
    for (const fail of [...inFlight]) fail(new EngineFailure(why.code, why.message))
    inFlight.clear()
    const failedJobs = [...running.keys()]
    for (const [id, kind] of [...running]) {
      emit({ name: 'job:done', payload: { id, kind, outcome: 'failed', error: why } })
    }
    running.clear()
    const previous = instance
    // Signals of the engine being stopped are stale from here on.
    generation += 1
    void previous.terminate()
    if (giveUp) {
      stopped = true
      cancelTimer()
      setHealth({ state: 'stopped', reason: why, restarts, failedJobs })
      return
    }
    restarts += 1
    setHealth({ state: 'restarting', reason: why, restarts, failedJobs })
    start()
  }

  const cancelTimer = clock.every(heartbeat, () => {
    if (stopped) return
    const limit = health.state === 'ready' ? unresponsive : startup
    if (clock.now() - lastAnswer > limit) {
      const seconds = Math.round(limit / 1000)
      restart(
        {
          code: notRespondingCode,
          message: `The engine stopped responding for ${seconds} s and was restarted; run it again.`,
        },
        `Tiller engine not responding (no heartbeat for ${seconds} s)`,
      )
    } else instance.sendHeartbeat(++beat)
  })
  start()

  const service: Record<string, unknown> = {
    subscribe(listener: (event: ContractEvent) => void): Unsubscribe {
      listeners.add(listener)
      return () => listeners.delete(listener)
    },
    restarts: () => restarts,
    health: () => health,
    async dispose() {
      stopped = true
      cancelTimer()
      generation += 1
      await instance.terminate()
    },
  }
  for (const name of requestNames) {
    service[name] = (args: unknown) =>
      new Promise((resolve, reject) => {
        if (stopped)
          return reject(new EngineFailure('disconnected', 'The engine is stopped; restart Tiller.'))
        inFlight.add(reject)
        const send = instance.bridge[name] as (
          value: unknown,
        ) => Promise<{ ok: boolean; result?: unknown; error?: ErrorInfo }>
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
