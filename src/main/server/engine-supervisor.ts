import { fork, type ChildProcess } from 'node:child_process'
import { constants } from 'node:os'
import { fileURLToPath } from 'node:url'
import type { MessagePortLike } from '../../shared/contract-port.ts'
import { bridgeOverPort } from '../../shared/contract-port.ts'
import {
  watchEngine,
  type EngineInstance,
  type EngineSignals,
  type SupervisedEngine,
  type WatchdogOptions,
} from '../supervision/engine-watchdog.ts'
import type { EngineChildMessage } from './child-channel.ts'

/**
 * Browser mode's engine: a child process watched by the engine watchdog (src/main/supervision), which answers
 * heartbeats from its event loop (child-channel.ts). An engine that stops answering or exits is reported, its
 * requests and running jobs fail with the reason, a fresh engine starts, and clients hear `engine:health`.
 * A process, not a worker thread: a thread cannot be stopped safely while ONNX Runtime has a native call in
 * flight (terminating it aborted the whole server), a process can always be killed without touching the server.
 */

/** How the supervisor starts and watches its engine. */
export interface SupervisorOptions extends Omit<WatchdogOptions, 'launch'> {
  /** The child's module (a file URL to a `.ts` file that calls `serveEngineInChild`). */
  entry: URL
  /** Passed to the child as JSON (with `entry`); it reads them with `engineChildSettings()`. */
  settings?: Record<string, unknown>
}

export type { SupervisedEngine } from '../supervision/engine-watchdog.ts'

const bootFile = fileURLToPath(new URL('./engine-child-boot.mjs', import.meta.url))

/** Send to the child; a channel already closed (the child died) drops the message, the watchdog hears the exit. */
function sendToChild(child: ChildProcess, message: EngineChildMessage): void {
  if (child.connected) child.send(message, undefined, undefined, () => undefined)
}

function hasExited(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null
}

/** Kill the child at once (SIGKILL: a hung engine does not answer anything gentler) and wait until it is gone. */
async function killChild(child: ChildProcess): Promise<void> {
  if (hasExited(child)) return
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  child.kill('SIGKILL')
  await exited
}

/** The child's contract messages as a port. */
function childPort(child: ChildProcess): MessagePortLike {
  return {
    send: (message) => sendToChild(child, { channel: 'contract', message }),
    onMessage(listener) {
      const handle = (data: EngineChildMessage): void => {
        if (data.channel === 'contract') listener(data.message)
      }
      child.on('message', handle)
      return () => child.off('message', handle)
    },
    onClose(listener) {
      child.on('exit', listener)
      return () => child.off('exit', listener)
    },
    close: () => void killChild(child),
  }
}

/**
 * Start one engine child, its heartbeats and exit wired to the watchdog. `model` is the folder the previous engine
 * had loaded, so a restarted engine loads it again and the studio continues where it was.
 */
function launchChild(options: SupervisorOptions, signals: EngineSignals, model: string | null): ChildProcess {
  const settings = { ...options.settings, ...(model === null ? {} : { model }), entry: options.entry.href }
  const child = fork(bootFile, [JSON.stringify(settings)], { serialization: 'advanced' })
  child.on('message', (data: EngineChildMessage) => {
    if (data.channel === 'heartbeat') signals.heartbeat()
  })
  const report = options.report ?? ((message: string) => process.stderr.write(`${message}\n`))
  // Listened for always: an unheard 'error' (a failed spawn, a failed kill) would end the server.
  child.on('error', (error) => report(`The Tiller engine failed: ${error.message}`))
  // A crash (an uncaught error, a native fault, a kill) ends the process: restart as for a hang. A signal is
  // reported as a shell does, 128 + its number (137 for SIGKILL).
  child.on('exit', (code, signal) =>
    signals.exited(signal === null ? code : 128 + (constants.signals[signal] ?? 0)),
  )
  return child
}

/** The watched engine process, plus a way to kill it at once (tests of the restart path). */
export type ChildEngine = SupervisedEngine & {
  /** Kill the engine process (SIGKILL) as a native crash would; the watchdog restarts it as for any crash. */
  kill(): Promise<void>
}

/** Start the engine child process and watch it. */
export function superviseEngine(options: SupervisorOptions): ChildEngine {
  let lastModel: string | null = null
  let current: ChildProcess | null = null
  const launch = (signals: EngineSignals): EngineInstance => {
    const child = launchChild(options, signals, lastModel)
    current = child
    return {
      bridge: bridgeOverPort(childPort(child)),
      sendHeartbeat: (beat) => sendToChild(child, { channel: 'heartbeat', beat }),
      terminate: () => killChild(child),
    }
  }
  // No orphan engines when the server exits without disposing (process.exit, an uncaught error).
  const killOnExit = (): void => {
    if (current !== null && !hasExited(current)) current.kill('SIGKILL')
  }
  process.on('exit', killOnExit)
  const engine = watchEngine({ ...options, launch })
  engine.subscribe((event) => {
    if (event.name === 'model:changed' && event.payload.model !== null) lastModel = event.payload.model.path
  })
  const dispose = engine.dispose.bind(engine)
  return Object.assign(engine, {
    async dispose() {
      await dispose()
      process.off('exit', killOnExit)
    },
    async kill() {
      if (current !== null) await killChild(current)
    },
  })
}
