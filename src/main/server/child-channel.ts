import { serveContract, type MessagePortLike, type WireMessage } from '../../shared/contract-port.ts'
import type { ContractService } from '../../shared/contract.ts'

/**
 * The messages between browser mode's server process and its engine child process (over the IPC channel of
 * `child_process.fork` with advanced serialization, so typed arrays cross as they are): contract traffic, and
 * heartbeats the child answers from its event loop, so an engine stuck in a long call stops answering and the
 * supervisor (engine-supervisor.ts) can tell.
 */
export type EngineChildMessage =
  { channel: 'contract'; message: WireMessage } | { channel: 'heartbeat'; beat: number }

/** What the server passes to its engine child (process.argv[2], as JSON): the entry, the model, the provider. */
export function engineChildSettings(): Record<string, unknown> {
  const settings: unknown = JSON.parse(process.argv[2] ?? '{}')
  return typeof settings === 'object' && settings !== null ? (settings as Record<string, unknown>) : {}
}

/** Send to the server; a channel already closed (the server is going) drops the message. */
function sendToParent(message: EngineChildMessage): void {
  if (process.connected) process.send?.(message, undefined, undefined, () => undefined)
}

/** Serve `engine` on the child's IPC channel and answer heartbeats (call once, inside the engine child). */
export function serveEngineInChild(engine: ContractService): void {
  if (process.send === undefined)
    throw new Error('serveEngineInChild runs inside a forked child process only.')
  const port: MessagePortLike = {
    send: (message) => sendToParent({ channel: 'contract', message }),
    onMessage(listener) {
      const handle = (data: EngineChildMessage): void => {
        if (data.channel === 'contract') listener(data.message)
      }
      process.on('message', handle)
      return () => process.off('message', handle)
    },
    onClose(listener) {
      process.on('disconnect', listener)
      return () => process.off('disconnect', listener)
    },
    close: () => process.disconnect(),
  }
  process.on('message', (data: EngineChildMessage) => {
    if (data.channel === 'heartbeat') sendToParent(data)
  })
  serveContract(engine, port)
  // The first heartbeat, unasked: the engine is up and serving.
  sendToParent({ channel: 'heartbeat', beat: 0 })
}
