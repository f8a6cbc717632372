import { BrowserWindow, ipcMain } from 'electron'
import { ipcChannel, requestNames, type EventName } from '../../shared/contract-names.ts'
import type { EventPayload, Outcome } from '../../shared/contract.ts'
import type { RelayRequest } from './engine-process.ts'
import { isTrustedSender } from './trusted-sender.ts'

/**
 * IPC registration: one `ipcMain.handle` per contract request, each checking the sender and relaying to the
 * engine process, where the argument is parsed with its schema. Handlers answer with an Outcome and never
 * throw, so the renderer sees the engine's error code, not Electron's wrapped message.
 */
export function registerContractHandlers(request: RelayRequest): void {
  for (const name of requestNames) {
    ipcMain.handle(ipcChannel(name), async (event, args: unknown): Promise<Outcome<unknown>> => {
      if (!isTrustedSender(event.senderFrame)) {
        return {
          ok: false,
          error: { code: 'forbidden', message: 'This page may not call the Tiller engine.' },
        }
      }
      return request(name, args)
    })
  }
}

/** Send an engine event to every Tiller window. */
export function broadcastEvent<K extends EventName>(name: K, payload: EventPayload<K>): void {
  for (const window of BrowserWindow.getAllWindows()) {
    if (!window.isDestroyed()) window.webContents.send(ipcChannel(name), payload)
  }
}
