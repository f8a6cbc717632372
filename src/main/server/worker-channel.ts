import { parentPort } from 'node:worker_threads'
import { serveContract, type MessagePortLike, type WireMessage } from '../../shared/contract-port.ts'
import type { ContractService } from '../../shared/contract.ts'

/**
 * The messages between browser mode's server thread and its engine worker: contract traffic, and heartbeats the
 * worker answers from its event loop, so an engine stuck in a long synchronous call (a runaway template, a huge
 * ONNX run) stops answering and the supervisor (engine-supervisor.ts) can tell.
 */
export type WorkerMessage =
  { channel: 'contract'; message: WireMessage } | { channel: 'heartbeat'; beat: number }

/** Serve `engine` on the worker's parent port and answer heartbeats (call once, inside the worker). */
export function serveEngineInWorker(engine: ContractService): void {
  const parent = parentPort
  if (parent === null) throw new Error('serveEngineInWorker runs inside a worker thread only.')
  const port: MessagePortLike = {
    send: (message) => parent.postMessage({ channel: 'contract', message } satisfies WorkerMessage),
    onMessage(listener) {
      const handle = (data: WorkerMessage): void => {
        if (data.channel === 'contract') listener(data.message)
      }
      parent.on('message', handle)
      return () => parent.off('message', handle)
    },
    onClose(listener) {
      parent.on('close', listener)
      return () => parent.off('close', listener)
    },
    close: () => parent.close(),
  }
  parent.on('message', (data: WorkerMessage) => {
    if (data.channel === 'heartbeat') parent.postMessage(data)
  })
  serveContract(engine, port)
  // The first heartbeat, unasked: the engine is up and serving.
  parent.postMessage({ channel: 'heartbeat', beat: 0 } satisfies WorkerMessage)
}
