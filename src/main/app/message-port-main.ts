import type { MessagePortMain } from 'electron'
import type { MessagePortLike } from '../../shared/contract-port.ts'

/** Electron's MessagePortMain (main process and utility process alike) as a contract port. */
export function messagePortMain(port: MessagePortMain): MessagePortLike {
  return {
    send(message) {
      port.postMessage(message)
    },
    onMessage(listener) {
      const handle = (event: Electron.MessageEvent): void => listener(event.data)
      port.on('message', handle)
      return () => port.off('message', handle)
    },
    onClose(listener) {
      port.on('close', listener)
      return () => port.off('close', listener)
    },
    close() {
      port.close()
    },
  }
}
