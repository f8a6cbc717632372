/**
 * What the page may ask the browser for. The studio needs one permission: writing plain text to the clipboard
 * (the Copy buttons), and only from its own page. Camera, microphone, location, notifications, MIDI, HID,
 * serial, USB, screen capture, pointer lock, fullscreen for other origins and everything added later are denied.
 */
import { appHost, appScheme } from './app-protocol.ts'

/** Permissions Tiller's own page is granted. */
export const grantedPermissions: ReadonlySet<string> = new Set(['clipboard-sanitized-write'])

/** True when `url` (an origin or a full URL) is Tiller's page, or the dev server in development. */
export function isAppOrigin(url: string | undefined, developmentUrl: string | undefined): boolean {
  if (url === undefined || url === '') return false
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch {
    return false
  }
  if (parsed.protocol === `${appScheme}:` && parsed.host === appHost) return true
  return developmentUrl !== undefined && parsed.origin === new URL(developmentUrl).origin
}

/** Grant `permission` to a request from `url`? */
export function decidePermission(
  permission: string,
  url: string | undefined,
  developmentUrl: string | undefined = process.env['ELECTRON_RENDERER_URL'],
): boolean {
  return grantedPermissions.has(permission) && isAppOrigin(url, developmentUrl)
}
