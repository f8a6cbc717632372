import type { MessagePortLike } from '../../shared/contract-port.ts'

/** Waits before reconnecting after a lost connection: quick at first, then every few seconds. */
const reconnectDelays = [250, 500, 1000, 2000, 4000]

/**
 * The browser's WebSocket as a contract port (browser mode): JSON text frames; messages sent while the socket is
 * not open wait in a queue. A lost connection (the server restarted, the laptop slept) is reopened with backoff;
 * each loss counts as a close for the contract (requests in flight fail and say so), and `onState` hears
 * `closed` and `open` so the studio can show it.
 */
export function browserWebSocketPort(
  url: string,
  onState: (state: 'open' | 'closed') => void = () => undefined,
): MessagePortLike {
  const queue: string[] = []
  const messageListeners = new Set<(message: unknown) => void>()
  const closeListeners = new Set<() => void>()
  let socket: WebSocket
  let attempts = 0
  let closedByUs = false

  const connect = (): void => {
    socket = new WebSocket(url)
    socket.addEventListener('open', () => {
      attempts = 0
      onState('open')
      for (const text of queue.splice(0)) socket.send(text)
    })
    socket.addEventListener('message', (event: MessageEvent) => {
      if (typeof event.data !== 'string') return
      let parsed: unknown
      try {
        parsed = JSON.parse(event.data)
      } catch {
        return
      }
      for (const listener of [...messageListeners]) listener(parsed)
    })
    socket.addEventListener('close', () => {
      for (const listener of [...closeListeners]) listener()
      if (closedByUs) return
      onState('closed')
      const delay = reconnectDelays[Math.min(attempts, reconnectDelays.length - 1)]
      attempts += 1
      setTimeout(connect, delay)
    })
  }
  connect()

  return {
    send(message) {
      const text = JSON.stringify(message)
      if (socket.readyState === WebSocket.OPEN) socket.send(text)
      else queue.push(text)
    },
    onMessage(listener) {
      messageListeners.add(listener)
      return () => messageListeners.delete(listener)
    },
    onClose(listener) {
      closeListeners.add(listener)
      return () => closeListeners.delete(listener)
    },
    close() {
      closedByUs = true
      socket.close()
    },
  }
}
