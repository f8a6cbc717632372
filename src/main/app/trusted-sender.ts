import type { WebFrameMain } from 'electron'
import { pathToFileURL } from 'node:url'
import { builtPaths } from './paths.ts'

/**
 * Only Tiller's own page may call the engine: the sending frame must be a top-level frame showing the built
 * renderer (or, in development, the dev server's origin). Anything else — an iframe, a page navigated away —
 * is refused, as the IPC layer of every careful Electron app does.
 */
export function isTrustedSender(frame: WebFrameMain | null | undefined): boolean {
  if (frame === null || frame === undefined || frame.parent !== null) return false
  let url: URL
  try {
    url = new URL(frame.url)
  } catch {
    return false
  }
  const developmentUrl = process.env['ELECTRON_RENDERER_URL']
  if (developmentUrl !== undefined && url.origin === new URL(developmentUrl).origin) return true
  return url.protocol === 'file:' && url.pathname === pathToFileURL(builtPaths.rendererIndex).pathname
}
