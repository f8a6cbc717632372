import type { RawData, WebSocket } from 'ws'
import type { MessagePortLike } from '../../shared/contract-port.ts'

/** A server-side `ws` socket as a contract port: JSON text frames, malformed frames ignored. */
export function webSocketPort(socket: WebSocket): MessagePortLike {
  return {
    send(message) {
      if (socket.readyState === socket.OPEN) socket.send(JSON.stringify(message))
    },
    onMessage(listener) {
      const handle = (data: RawData, isBinary: boolean): void => {
        if (isBinary) return
        const text = Array.isArray(data)
          ? Buffer.concat(data).toString('utf8')
          : Buffer.isBuffer(data)
            ? data.toString('utf8')
            : new TextDecoder().decode(data)
        let parsed: unknown
        try {
          parsed = JSON.parse(text)
        } catch {
          return
        }
        listener(parsed)
      }
      socket.on('message', handle)
      return () => socket.off('message', handle)
    },
    onClose(listener) {
      socket.on('close', listener)
      return () => socket.off('close', listener)
    },
    close() {
      socket.close()
    },
  }
}
