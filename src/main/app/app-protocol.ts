/**
 * The desktop app serves its renderer from `tiller://app/…` instead of `file://`: a custom standard, secure
 * scheme gives the page a real origin (so CSP `'self'`, storage and the trusted-sender check mean something),
 * keeps every other file on disk out of reach, and lets each answer carry the security headers. This file is the
 * pure part — mapping a request URL to a file and its headers — so it is tested without Electron; `protocol.ts`
 * registers it with Electron.
 */
import { emptyStyleHash } from '../../shared/style-policy.ts'
import { extname, join, resolve, sep } from 'node:path'

export const appScheme = 'tiller'
export const appHost = 'app'

/** The URL of a file of the renderer, e.g. `tiller://app/index.html`. */
export function appUrl(path: string): string {
  return `${appScheme}://${appHost}/${path.replace(/^\/+/, '')}`
}

/**
 * The desktop renderer's content security policy. The page talks to the engine over IPC only, so it connects
 * nowhere; no inline script runs, and no inline style with content applies (`emptyStyleHash`, style-policy.ts:
 * Naive UI's run-time styles reach the page as constructed style sheets).
 */
export const desktopContentSecurityPolicy = [
  "default-src 'self'",
  "script-src 'self'",
  `style-src 'self' '${emptyStyleHash}'`,
  "img-src 'self' data:",
  "font-src 'self'",
  "connect-src 'none'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ')

/** Headers on every answer of the app protocol. */
export const appResponseHeaders: Readonly<Record<string, string>> = {
  'Content-Security-Policy': desktopContentSecurityPolicy,
  'X-Content-Type-Options': 'nosniff',
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Resource-Policy': 'same-origin',
  'Referrer-Policy': 'no-referrer',
}

/** Content types of the files the built renderer holds. */
export const appContentTypes: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.wasm': 'application/wasm',
}

/** What to answer: a file to send with its headers, or a refusal with a status and a one-line reason. */
export type AppResponse =
  | { kind: 'file'; path: string; status: 200; headers: Record<string, string> }
  | { kind: 'refused'; status: 400 | 403 | 404; reason: string; headers: Record<string, string> }

function refused(status: 400 | 403 | 404, reason: string): AppResponse {
  return { kind: 'refused', status, reason, headers: { ...appResponseHeaders, 'Content-Type': 'text/plain' } }
}

/**
 * Map a request for `url` to a file under `rendererDirectory`. Only `tiller://app/` is served; a path that
 * escapes the folder (`..`, encoded or not, or an absolute path) is refused; a path without an extension is the
 * single-page app's index; an unknown type is refused rather than sniffed.
 */
export function resolveAppRequest(rendererDirectory: string, url: string): AppResponse {
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch {
    return refused(400, 'Malformed address.')
  }
  if (parsed.protocol !== `${appScheme}:` || parsed.host !== appHost)
    return refused(403, 'Not Tiller’s page.')
  let decoded: string
  try {
    decoded = decodeURIComponent(parsed.pathname)
  } catch {
    return refused(400, 'Malformed path.')
  }
  if (decoded.includes('\0')) return refused(400, 'Malformed path.')
  const root = resolve(rendererDirectory)
  const relative = decoded.replace(/^\/+/, '')
  const candidate = resolve(join(root, relative === '' ? 'index.html' : relative))
  if (candidate !== root && !candidate.startsWith(root + sep))
    return refused(403, 'Outside the renderer folder.')
  const extension = extname(candidate)
  const path = extension === '' ? join(root, 'index.html') : candidate
  const type = appContentTypes[extname(path)]
  if (type === undefined) return refused(404, `No such file type: ${extname(path)}.`)
  return { kind: 'file', path, status: 200, headers: { ...appResponseHeaders, 'Content-Type': type } }
}
