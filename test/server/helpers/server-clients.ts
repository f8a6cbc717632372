import { WebSocket } from 'ws'
import type { BrowserServer } from '../../../src/main/server/browser-server.ts'
import { webSocketPort } from '../../../src/main/server/websocket-port.ts'
import { createClient, type TillerClient } from '../../../src/shared/contract-client.ts'
import { bridgeOverPort } from '../../../src/shared/contract-port.ts'

/** A contract client on `server`'s WebSocket, with the run's token and the page's origin, once it is open. */
export async function connectClient(server: BrowserServer): Promise<TillerClient> {
  const socket = new WebSocket(`ws://127.0.0.1:${server.port}/contract?token=${server.token}`, {
    headers: { origin: `http://127.0.0.1:${server.port}` },
  })
  await new Promise((resolve, reject) => {
    socket.once('open', resolve)
    socket.once('error', reject)
  })
  return createClient(bridgeOverPort(webSocketPort(socket)))
}

/** Whether a process with `processId` exists (signal 0 checks without sending anything). */
export function isRunning(processId: number): boolean {
  try {
    process.kill(processId, 0)
    return true
  } catch {
    return false
  }
}
