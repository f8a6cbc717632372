import type { MessageEvent as ElectronMessageEvent } from 'electron'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { serveContract } from '../../shared/contract-port.ts'
import { createEngine, createRealRuntime, type EngineModel, type EngineRuntime } from '../core/engine.ts'
import { defaultModelRelativePath } from '../core/models/default-model.ts'
import { appPathVariable } from './engine-host-environment.ts'
import { isHeartbeat, type EngineHostMessage } from './engine-host-messages.ts'
import { messagePortMain } from './message-port-main.ts'

/**
 * Entry of the engine's utility process. ONNX Runtime's `run()` blocks its thread, so the engine lives here,
 * never in the main process that owns the windows. The main process sends one MessagePort; the contract is
 * served on it, and the embedded default model starts loading. Heartbeats from the main process are answered
 * from this process's event loop, so a blocked engine goes quiet and the main process's watchdog restarts it.
 */

/**
 * The bundled engine cannot find the source checkout from its own location, so the main process passes the app
 * folder (`app.getAppPath()`) in an environment variable; its `resources/models/organism` wins when present, and
 * the runtime's own lookup (packaged resources) applies otherwise.
 */
function withAppDefaultModel<Model extends EngineModel>(runtime: EngineRuntime<Model>): EngineRuntime<Model> {
  const appPath = process.env[appPathVariable]
  const candidate = appPath === undefined ? undefined : join(appPath, 'resources', defaultModelRelativePath)
  return {
    ...runtime,
    defaultModelFolder: () =>
      candidate !== undefined && existsSync(candidate) ? candidate : runtime.defaultModelFolder(),
  }
}

async function serve(event: ElectronMessageEvent): Promise<void> {
  const [port] = event.ports
  if (port === undefined) throw new Error('The engine process expected a MessagePort from the main process.')
  const engine = createEngine({ runtime: withAppDefaultModel(await createRealRuntime()) })
  serveContract(engine, messagePortMain(port))
  port.start()
  serving = true
  // The first heartbeat, unasked: the engine is up and serving.
  process.parentPort.postMessage({ kind: 'heartbeat', beat: 0 } satisfies EngineHostMessage)
  engine.loadDefaultModel()
}

let connected = false
let serving = false
// Listen before anything asynchronous, so the port the main process sends at once is not missed.
process.parentPort.on('message', (event) => {
  const message = event.data as unknown
  if (isHeartbeat(message)) {
    // Answered only once the engine serves: a host still loading ONNX Runtime is "starting", not "ready".
    if (serving) process.parentPort.postMessage(message)
    return
  }
  if (connected) return
  connected = true
  void serve(event)
})
