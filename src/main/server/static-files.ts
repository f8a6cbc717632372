import { emptyStyleHash } from '../../shared/style-policy.ts'
import { readFile, stat } from 'node:fs/promises'
import type { ServerResponse } from 'node:http'
import { extname, join, resolve, sep } from 'node:path'

/**
 * Serves the built renderer (`out/renderer`) read-only. Paths are resolved inside the root and anything that
 * escapes it is refused; unknown paths fall back to `index.html` so a reload keeps working.
 */

const contentTypes: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.txt': 'text/plain; charset=utf-8',
}

/**
 * The content security policy of browser mode, sent as a header: a `<meta>` policy cannot forbid framing
 * (`frame-ancestors`), and the header applies before the page parses. No inline script runs, and no inline style
 * with content applies (`emptyStyleHash`, style-policy.ts): Naive UI's run-time styles reach the page as constructed
 * style sheets, and Vue's `:style` bindings set properties through the CSSOM, which CSP does not govern. `'self'`
 * covers the contract's WebSocket on the same host and port.
 */
export const contentSecurityPolicy = [
  "default-src 'self'",
  "script-src 'self'",
  `style-src 'self' '${emptyStyleHash}'`,
  "img-src 'self' data:",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ')

/**
 * Headers every answer carries: the content security policy, no framing (`X-Frame-Options` for browsers that
 * predate `frame-ancestors`), no caching of per-run pages, no MIME sniffing, no token in referrers.
 */
export const commonHeaders: Record<string, string> = {
  'Content-Security-Policy': contentSecurityPolicy,
  'X-Frame-Options': 'DENY',
  'Cache-Control': 'no-store',
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  'Cross-Origin-Resource-Policy': 'same-origin',
}

function send(response: ServerResponse, status: number, type: string, body: string | Buffer): void {
  response.writeHead(status, {
    ...commonHeaders,
    'Content-Type': type,
    'Content-Length': Buffer.byteLength(body),
  })
  response.end(body)
}

async function isFile(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile()
  } catch {
    return false
  }
}

/** Answer a GET for `urlPath` from the files under `root`. */
export async function serveStaticFile(
  root: string,
  urlPath: string,
  response: ServerResponse,
): Promise<void> {
  const base = resolve(root)
  let decoded: string
  try {
    decoded = decodeURIComponent(urlPath)
  } catch {
    send(response, 400, contentTypes['.txt'] ?? 'text/plain', 'Malformed path.\n')
    return
  }
  const candidate = resolve(join(base, decoded))
  if (candidate !== base && !candidate.startsWith(base + sep)) {
    send(response, 403, contentTypes['.txt'] ?? 'text/plain', 'Outside the renderer folder.\n')
    return
  }
  const index = join(base, 'index.html')
  const path = (await isFile(candidate)) ? candidate : extname(decoded) === '' ? index : null
  if (path === null) {
    send(response, 404, contentTypes['.txt'] ?? 'text/plain', 'Not found.\n')
    return
  }
  if (!(await isFile(path))) {
    const message = `The renderer is not built (${index} is missing). Run \`npm run build\`, then start again.\n`
    send(response, 503, contentTypes['.txt'] ?? 'text/plain', message)
    return
  }
  const type = contentTypes[extname(path)] ?? 'application/octet-stream'
  send(response, 200, type, await readFile(path))
}
