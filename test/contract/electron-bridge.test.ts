import { pathToFileURL } from 'node:url'
import { beforeAll, describe, expect, test, vi } from 'vitest'
import { builtPaths } from '../../src/main/app/paths.ts'
import { desktopChannels } from '../../src/shared/desktop.ts'
import { eventNames, ipcChannel, requestNames } from '../../src/shared/contract-names.ts'

/**
 * The Electron carrier without Electron: the `electron` module is replaced by recorders, so these tests check
 * what the preload exposes, which channels it uses, and that main refuses calls from frames that are not
 * Tiller's page.
 */

type Handler = (event: unknown, args: unknown) => Promise<unknown>

const electron = vi.hoisted(() => ({
  exposed: new Map<string, unknown>(),
  invoked: [] as { channel: string; args: unknown }[],
  rendererListeners: new Map<string, Set<(event: unknown, payload: unknown) => void>>(),
  handlers: new Map<string, Handler>(),
  sent: [] as { channel: string; payload: unknown }[],
}))

vi.mock('electron', () => ({
  contextBridge: { exposeInMainWorld: (key: string, api: unknown) => electron.exposed.set(key, api) },
  ipcRenderer: {
    invoke: async (channel: string, ...values: unknown[]) => {
      electron.invoked.push({ channel, args: values.length === 1 ? values[0] : values })
      return { ok: true, result: channel }
    },
    on: (channel: string, listener: (event: unknown, payload: unknown) => void) => {
      const set = electron.rendererListeners.get(channel) ?? new Set()
      electron.rendererListeners.set(channel, set)
      set.add(listener)
    },
    removeListener: (channel: string, listener: (event: unknown, payload: unknown) => void) =>
      electron.rendererListeners.get(channel)?.delete(listener),
  },
  ipcMain: { handle: (channel: string, handler: Handler) => electron.handlers.set(channel, handler) },
  BrowserWindow: {
    getAllWindows: () => [
      {
        isDestroyed: () => false,
        webContents: {
          send: (channel: string, payload: unknown) => electron.sent.push({ channel, payload }),
        },
      },
    ],
  },
}))

type Exposed = Record<string, unknown> & {
  on(name: string, listener: (payload: unknown) => void): () => void
}

describe('preload', () => {
  let tiller: Exposed

  beforeAll(async () => {
    await import('../../src/preload/index.ts')
    tiller = electron.exposed.get('tiller') as Exposed
  })

  test('exposes exactly the contract requests plus `on` as window.tiller, and the two dialogs', () => {
    expect([...electron.exposed.keys()]).toEqual(['tiller', 'tillerDesktop'])
    expect(Object.keys(tiller).sort()).toEqual([...requestNames, 'on'].sort())
    const desktop = electron.exposed.get('tillerDesktop') as Record<string, unknown>
    expect(Object.keys(desktop).sort()).toEqual(['chooseFile', 'chooseFolder'])
  })

  test('the dialogs invoke their own channels with only strings', async () => {
    const desktop = electron.exposed.get('tillerDesktop') as {
      chooseFile(title: unknown, extensions: unknown[]): Promise<unknown>
    }
    await desktop.chooseFile('Choose a GGUF file', ['gguf', 7])
    expect(electron.invoked.at(-1)).toEqual({
      channel: desktopChannels.chooseFile,
      args: ['Choose a GGUF file', ['gguf', '7']],
    })
  })

  test('each request invokes its own prefixed channel with the argument unchanged', async () => {
    const call = tiller['model:load'] as (args: unknown) => Promise<unknown>
    expect(await call({ path: '/models/a' })).toEqual({ ok: true, result: 'tiller/model:load' })
    expect(electron.invoked.at(-1)).toEqual({ channel: 'tiller/model:load', args: { path: '/models/a' } })
  })

  test('`on` accepts only contract events, hides the IPC event object, and unsubscribes', () => {
    expect(() => tiller.on('anything:else', () => undefined)).toThrow(/Unknown event "anything:else"/)
    const heard: unknown[] = []
    const stop = tiller.on('job:done', (payload) => heard.push(payload))
    const channelListeners = electron.rendererListeners.get(ipcChannel('job:done'))
    for (const listener of channelListeners ?? []) listener({ sender: 'secret' }, { id: 'j' })
    expect(heard).toEqual([{ id: 'j' }])
    stop()
    expect(channelListeners?.size).toBe(0)
  })
})

describe('main-process IPC', () => {
  const relayed: { name: string; args: unknown }[] = []
  const trustedFrame = { parent: null, url: 'tiller://app/index.html' }

  beforeAll(async () => {
    const { registerContractHandlers } = await import('../../src/main/app/ipc.ts')
    registerContractHandlers(async (name, args) => {
      relayed.push({ name, args })
      return { ok: true, result: `engine answered ${name}` }
    })
  })

  test('registers one handler per request on its prefixed channel', () => {
    expect([...electron.handlers.keys()].sort()).toEqual(requestNames.map((name) => ipcChannel(name)).sort())
  })

  test('relays calls from Tiller’s own page to the engine', async () => {
    const handler = electron.handlers.get(ipcChannel('engine:status'))
    expect(await handler?.({ senderFrame: trustedFrame }, {})).toEqual({
      ok: true,
      result: 'engine answered engine:status',
    })
    expect(relayed.at(-1)).toEqual({ name: 'engine:status', args: {} })
  })

  test('refuses frames that are not Tiller’s top-level page', async () => {
    const handler = electron.handlers.get(ipcChannel('model:load'))
    const count = relayed.length
    const strangers = [
      null,
      { parent: null, url: 'https://example.com/' },
      { parent: null, url: 'file:///tmp/other/index.html' },
      // The built renderer opened as a file is not the app's origin: only tiller://app/ is.
      { parent: null, url: pathToFileURL(builtPaths.rendererIndex).href },
      { parent: null, url: 'tiller://elsewhere/index.html' },
      { parent: trustedFrame, url: trustedFrame.url },
    ]
    for (const frame of strangers) {
      expect(await handler?.({ senderFrame: frame }, { path: '/x' })).toMatchObject({
        ok: false,
        error: { code: 'forbidden' },
      })
    }
    expect(relayed.length).toBe(count)
  })

  test('broadcasts engine events to every window on the event’s channel', async () => {
    const { broadcastEvent } = await import('../../src/main/app/ipc.ts')
    broadcastEvent('model:changed', { model: null, loading: null, problem: 'none' })
    expect(electron.sent.at(-1)).toEqual({
      channel: ipcChannel('model:changed'),
      payload: { model: null, loading: null, problem: 'none' },
    })
    expect(eventNames).toContain('model:changed')
  })
})
