import { app, MessageChannelMain, utilityProcess } from 'electron'
import type { EventName, RequestName } from '../../shared/contract-names.ts'
import { bridgeOverPort, toErrorInfo } from '../../shared/contract-port.ts'
import type { EventPayload, Outcome } from '../../shared/contract.ts'
import {
  watchEngine,
  type EngineInstance,
  type EngineSignals,
  type WatchdogOptions,
} from '../supervision/engine-watchdog.ts'
import { appPathVariable } from './engine-host-environment.ts'
import { isHeartbeat, type EngineHostMessage } from './engine-host-messages.ts'
import { messagePortMain } from './message-port-main.ts'
import { builtPaths } from './paths.ts'

/**
 * The engine's utility process as seen from the main process: requests relay over a MessagePort, events come
 * back to `onEvent`. The engine watchdog (src/main/supervision) sends it heartbeats: an engine that stops
 * answering (a template or a model run that never returns) or exits (out of memory in ONNX Runtime, a native
 * fault) is killed and started afresh, its requests and running jobs fail with the reason, and the windows hear
 * `engine:health`. After a few restarts requests fail with a message instead of hanging.
 */

const maximumRestarts = 3

/** A request relayed to the engine. */
export type RelayRequest = <K extends RequestName>(name: K, args: unknown) => Promise<Outcome<unknown>>

/** The running engine process. */
export interface EngineProcess {
  request: RelayRequest
  stop(): void
}

/** Fork one engine host, connected over a fresh MessagePort, its heartbeats and exit wired to the watchdog. */
function launchEngineHost(signals: EngineSignals): EngineInstance {
  const { port1, port2 } = new MessageChannelMain()
  const child = utilityProcess.fork(builtPaths.engineHost, [], {
    serviceName: 'Tiller engine',
    stdio: 'inherit',
    env: { ...process.env, [appPathVariable]: app.getAppPath() },
  })
  child.postMessage({ kind: 'connect' } satisfies EngineHostMessage, [port1])
  child.on('message', (message: unknown) => {
    if (isHeartbeat(message)) signals.heartbeat()
  })
  child.once('exit', (code) => {
    port2.close()
    signals.exited(code)
  })
  const bridge = bridgeOverPort(messagePortMain(port2))
  port2.start()
  return {
    bridge,
    sendHeartbeat: (beat) => child.postMessage({ kind: 'heartbeat', beat } satisfies EngineHostMessage),
    terminate: () => {
      child.kill()
    },
  }
}

/**
 * Fork the engine host and watch it; `onEvent` receives every contract event, `engine:health` included. `watchdog`
 * overrides the watchdog's timings (and clock, for tests).
 */
export function startEngineProcess(
  onEvent: <K extends EventName>(name: K, payload: EventPayload<K>) => void,
  watchdog: Omit<WatchdogOptions, 'launch'> = {},
): EngineProcess {
  const engine = watchEngine({
    maximumRestarts,
    report: (message) => console.error(message),
    ...watchdog,
    launch: launchEngineHost,
  })
  engine.subscribe((event) => onEvent(event.name, event.payload))
  return {
    async request(name, args) {
      try {
        const send = engine[name] as (value: unknown) => Promise<unknown>
        return { ok: true, result: await send(args) }
      } catch (error) {
        return { ok: false, error: toErrorInfo(error) }
      }
    },
    stop() {
      void engine.dispose()
    },
  }
}
