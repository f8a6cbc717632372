import { app, MessageChannelMain, utilityProcess, type UtilityProcess } from 'electron'
import { eventNames, type EventName, type RequestName } from '../../shared/contract-names.ts'
import { bridgeOverPort } from '../../shared/contract-port.ts'
import type { EventPayload, Outcome, TillerBridge } from '../../shared/contract.ts'
import { appPathVariable } from './engine-host-environment.ts'
import { messagePortMain } from './message-port-main.ts'
import { builtPaths } from './paths.ts'

/**
 * The engine's utility process as seen from the main process: requests relay over a MessagePort, events come
 * back to `onEvent`. A crashed engine (out of memory in ONNX Runtime, a native fault) is restarted a few
 * times; requests made while it is down fail with a message instead of hanging.
 */

const maximumRestarts = 3

/** A request relayed to the engine. */
export type RelayRequest = <K extends RequestName>(name: K, args: unknown) => Promise<Outcome<unknown>>

/** The running engine process. */
export interface EngineProcess {
  request: RelayRequest
  stop(): void
}

/** Fork the engine host and connect to it; `onEvent` receives every contract event it emits. */
export function startEngineProcess(
  onEvent: <K extends EventName>(name: K, payload: EventPayload<K>) => void,
): EngineProcess {
  let child: UtilityProcess | null = null
  let bridge: TillerBridge | null = null
  let restarts = 0
  let stopping = false

  const launch = (): void => {
    const { port1, port2 } = new MessageChannelMain()
    const forked = utilityProcess.fork(builtPaths.engineHost, [], {
      serviceName: 'Tiller engine',
      stdio: 'inherit',
      env: { ...process.env, [appPathVariable]: app.getAppPath() },
    })
    forked.postMessage({ kind: 'connect' }, [port1])
    const connected = bridgeOverPort(messagePortMain(port2))
    for (const name of eventNames) connected.on(name, (payload) => onEvent(name, payload))
    port2.start()
    forked.once('exit', (code) => {
      port2.close()
      if (bridge === connected) bridge = null
      if (stopping || restarts >= maximumRestarts) return
      restarts += 1
      console.error(
        `The Tiller engine process exited with code ${code}; restarting it (${restarts}/${maximumRestarts}).`,
      )
      launch()
    })
    child = forked
    bridge = connected
  }
  launch()

  return {
    async request(name, args) {
      if (bridge === null) {
        return {
          ok: false,
          error: {
            code: 'disconnected',
            message: 'The engine process stopped and could not be restarted. Restart Tiller.',
          },
        }
      }
      const send = bridge[name] as (value: unknown) => Promise<Outcome<unknown>>
      return send(args)
    },
    stop() {
      stopping = true
      child?.kill()
    },
  }
}
