import type { MessagePortLike } from '../../shared/contract-port.ts'

/**
 * The browser's WebSocket as a contract port (browser mode): JSON text frames; messages sent before the socket
 * opens wait in a queue.
 */
export function browserWebSocketPort(url: string): MessagePortLike {
  const socket = new WebSocket(url)
  const queue: string[] = []
  socket.addEventListener('open', () => {
    for (const text of queue.splice(0)) socket.send(text)
  })
  return {
    send(message) {
      const text = JSON.stringify(message)
      if (socket.readyState === WebSocket.OPEN) socket.send(text)
      else if (socket.readyState === WebSocket.CONNECTING) queue.push(text)
    },
    onMessage(listener) {
      const handle = (event: MessageEvent): void => {
        if (typeof event.data !== 'string') return
        let parsed: unknown
        try {
          parsed = JSON.parse(event.data)
        } catch {
          return
        }
        listener(parsed)
      }
      socket.addEventListener('message', handle)
      return () => socket.removeEventListener('message', handle)
    },
    onClose(listener) {
      socket.addEventListener('close', listener)
      return () => socket.removeEventListener('close', listener)
    },
    close() {
      socket.close()
    },
  }
}
