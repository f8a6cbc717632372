import type { MessageEvent as ElectronMessageEvent } from 'electron'
import { serveContract } from '../../shared/contract-port.ts'
import { createEngine, createRealRuntime } from '../core/engine.ts'
import { messagePortMain } from './message-port-main.ts'

/**
 * Entry of the engine's utility process. ONNX Runtime's `run()` blocks its thread, so the engine lives here,
 * never in the main process that owns the windows. The main process sends one MessagePort; the contract is
 * served on it, and the embedded default model starts loading.
 */

async function serve(event: ElectronMessageEvent): Promise<void> {
  const [port] = event.ports
  if (port === undefined) throw new Error('The engine process expected a MessagePort from the main process.')
  const engine = createEngine({ runtime: await createRealRuntime() })
  serveContract(engine, messagePortMain(port))
  port.start()
  engine.loadDefaultModel()
}

// Listen before anything asynchronous, so the port the main process sends at once is not missed.
process.parentPort.once('message', (event) => void serve(event))
