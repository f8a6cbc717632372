import { requestNames } from '../../shared/contract-names.ts'
import { createClient, type TillerClient } from '../../shared/contract-client.ts'
import { bridgeOverPort } from '../../shared/contract-port.ts'
import type { TillerBridge } from '../../shared/contract.ts'
import type { ErrorInfo } from '../../shared/jobs.ts'
import { browserWebSocketPort } from './websocket-port.ts'

/**
 * The renderer's one door to the engine. Stores call `useClient()`; which carrier sits behind it is chosen once
 * at startup: Electron's preload bridge when present, otherwise browser mode's WebSocket with the token from
 * the page URL. Tests inject a client over a fake bridge with `setClient`.
 */

let current: TillerClient | null = null

/** Whether the page's connection to the engine is up (browser mode's WebSocket; always open in Electron). */
export type ConnectionState = 'open' | 'closed'
const connectionListeners = new Set<(state: ConnectionState) => void>()

/** Hear when the connection to the engine is lost or back. */
export function onConnectionChange(listener: (state: ConnectionState) => void): () => void {
  connectionListeners.add(listener)
  return () => connectionListeners.delete(listener)
}

/** Tell the studio the connection changed (the carrier calls this; tests may too). */
export function announceConnection(state: ConnectionState): void {
  for (const listener of [...connectionListeners]) listener(state)
}

/** A bridge whose every request fails with `error` (a page opened without its token). */
function refusingBridge(error: ErrorInfo): TillerBridge {
  const bridge: Record<string, unknown> = { on: () => () => undefined }
  for (const name of requestNames) bridge[name] = async () => ({ ok: false, error })
  // NOTE: keys come from the contract's name list; the cast states that shape.
  return bridge as TillerBridge
}

/** The client for this page: `window.tiller` in the desktop app, else the WebSocket of browser mode. */
export function connectDefaultClient(): TillerClient {
  if (window.tiller !== undefined) return createClient(window.tiller)
  const token = new URLSearchParams(window.location.search).get('token')
  if (token === null || token === '') {
    return createClient(
      refusingBridge({
        code: 'unauthorized',
        message: 'This page needs the token in the address that `npm start` printed. Open that address.',
      }),
    )
  }
  const url = `ws://${window.location.host}/contract?token=${encodeURIComponent(token)}`
  return createClient(bridgeOverPort(browserWebSocketPort(url, announceConnection)))
}

/** Install the client every store uses. */
export function setClient(client: TillerClient): void {
  current = client
}

/** The installed client; throws if startup forgot `setClient`. */
export function useClient(): TillerClient {
  if (current === null) throw new Error('No engine client is installed; call setClient() at startup.')
  return current
}
