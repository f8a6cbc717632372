import type { WebFrameMain } from 'electron'
import { isAppOrigin } from './permissions.ts'

/**
 * Only Tiller's own page may call the engine: the sending frame must be a top-level frame on `tiller://app/`
 * (the built renderer, app-protocol.ts) or, in development, the dev server's origin. Anything else — an iframe, a page navigated away —
 * is refused, as the IPC layer of every careful Electron app does.
 */
export function isTrustedSender(frame: WebFrameMain | null | undefined): boolean {
  if (frame === null || frame === undefined || frame.parent !== null) return false
  return isAppOrigin(frame.url, process.env['ELECTRON_RENDERER_URL'])
}
