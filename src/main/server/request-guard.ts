import { timingSafeEqual } from 'node:crypto'
import type { IncomingMessage } from 'node:http'

/**
 * Who may talk to browser mode's server. It listens on 127.0.0.1 only, and still checks every request:
 * the Host header must name the loopback address and our port (a page on another site that rebinds its DNS
 * name to 127.0.0.1 sends its own name as Host), a browser's Origin must be this server, and the contract
 * socket must present the per-run token that only the printed URL carries.
 */

/** The hosts this server answers to, as `host:port`. */
export function allowedHosts(port: number): string[] {
  return [`127.0.0.1:${port}`, `localhost:${port}`, `[::1]:${port}`]
}

/** The Host header names this server. */
export function isAllowedHost(request: IncomingMessage, port: number): boolean {
  const host = request.headers.host
  return host !== undefined && allowedHosts(port).includes(host.toLowerCase())
}

/**
 * A browser's Origin must be this server. Clients that are not browsers send none; they still need the token.
 */
export function isAllowedOrigin(request: IncomingMessage, port: number): boolean {
  const origin = request.headers.origin
  if (origin === undefined) return true
  return allowedHosts(port).some((host) => origin.toLowerCase() === `http://${host}`)
}

/** Compare the presented token with the run's token in constant time. */
export function isValidToken(presented: string | null, expected: string): boolean {
  if (presented === null) return false
  const a = Buffer.from(presented)
  const b = Buffer.from(expected)
  return a.length === b.length && timingSafeEqual(a, b)
}
