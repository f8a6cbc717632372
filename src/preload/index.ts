import { contextBridge, ipcRenderer, type IpcRendererEvent } from 'electron'
import { eventNames, ipcChannel, isEventName, requestNames } from '../shared/contract-names.ts'
import type { TillerBridge } from '../shared/contract.ts'
import { desktopChannels, type TillerDesktop } from '../shared/desktop.ts'

/**
 * The preload: exposes `window.tiller`, built from the contract's name lists and nothing else, and
 * `window.tillerDesktop`, the two file dialogs only the main process can open. Each request is
 * one `invoke` on its own channel (main validates the sender and the argument); `on` subscribes to one contract
 * event and never hands the renderer Electron's event object. It imports no other module, so it runs in the
 * sandbox as a single bundled file.
 */

const bridge: Record<string, unknown> = {}
for (const name of requestNames) {
  bridge[name] = (args: unknown) => ipcRenderer.invoke(ipcChannel(name), args)
}
bridge['on'] = (name: unknown, listener: unknown) => {
  if (!isEventName(name)) throw new Error(`Unknown event "${String(name)}"; known: ${eventNames.join(', ')}.`)
  if (typeof listener !== 'function') throw new Error('The listener must be a function.')
  const channel = ipcChannel(name)
  const handler = (_event: IpcRendererEvent, payload: unknown): void => listener(payload)
  ipcRenderer.on(channel, handler)
  return () => {
    ipcRenderer.removeListener(channel, handler)
  }
}

// NOTE: keys come from the contract's name lists; the cast states that shape for the type check below.
contextBridge.exposeInMainWorld('tiller', bridge as TillerBridge)

const desktop: TillerDesktop = {
  chooseFolder: (title) => ipcRenderer.invoke(desktopChannels.chooseFolder, String(title)),
  chooseFile: (title, extensions) =>
    ipcRenderer.invoke(desktopChannels.chooseFile, String(title), extensions.map(String)),
}
contextBridge.exposeInMainWorld('tillerDesktop', desktop)
