import { randomBytes } from 'node:crypto'
import { createServer, type IncomingMessage } from 'node:http'
import type { Duplex } from 'node:stream'
import { WebSocketServer } from 'ws'
import { serveContract } from '../../shared/contract-port.ts'
import type { ContractService } from '../../shared/contract.ts'
import { isAllowedHost, isAllowedOrigin, isValidToken } from './request-guard.ts'
import { commonHeaders, serveStaticFile } from './static-files.ts'
import { webSocketPort } from './websocket-port.ts'

/**
 * Browser mode: the built renderer and the contract on one loopback HTTP server. The page is plain static
 * files; the engine is reached only through the WebSocket at `/contract?token=…`.
 */

/** The path of the contract's WebSocket. */
export const contractPath = '/contract'

/** How to start browser mode. */
export interface BrowserServerOptions {
  engine: ContractService
  /** Folder of the built renderer (`out/renderer`). */
  rendererDirectory: string
  /** 0 (the default) picks a free port. */
  port?: number
  /** The per-run secret; a fresh random one when omitted. */
  token?: string
}

/** A running browser-mode server. */
export interface BrowserServer {
  /** The page to open, token included. */
  url: string
  port: number
  token: string
  close(): Promise<void>
}

/**
 * The largest message a client may send. Requests carry prompts, paths and settings (kilobytes); `ws` refuses a
 * frame whose header claims more before reading its payload, and drops that client.
 */
export const maximumMessageBytes = 64 * 1024 * 1024

function refuse(socket: Duplex, status: number, reason: string): void {
  socket.end(`HTTP/1.1 ${status} ${reason}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`)
}

/** Start the server on 127.0.0.1 and resolve once it listens. */
export async function startBrowserServer(options: BrowserServerOptions): Promise<BrowserServer> {
  const token = options.token ?? randomBytes(24).toString('base64url')
  let port = options.port ?? 0
  const sockets = new WebSocketServer({ noServer: true, maxPayload: maximumMessageBytes })

  const server = createServer((request, response) => {
    if (!isAllowedHost(request, port)) {
      response.writeHead(421, { ...commonHeaders, 'Content-Type': 'text/plain' })
      response.end('Unknown host.\n')
      return
    }
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      response.writeHead(405, { ...commonHeaders, Allow: 'GET, HEAD' })
      response.end()
      return
    }
    const path = new URL(request.url ?? '/', 'http://127.0.0.1').pathname
    void serveStaticFile(options.rendererDirectory, path, response).catch(() => {
      if (!response.headersSent) response.writeHead(500, commonHeaders)
      response.end()
    })
  })

  server.on('upgrade', (request: IncomingMessage, socket: Duplex, head: Buffer) => {
    // Node hands the upgrade socket over without an error listener: a reset while refusing would end the process.
    socket.on('error', () => socket.destroy())
    const url = new URL(request.url ?? '/', 'http://127.0.0.1')
    if (url.pathname !== contractPath) return refuse(socket, 404, 'Not Found')
    if (!isAllowedHost(request, port)) return refuse(socket, 421, 'Misdirected Request')
    if (!isAllowedOrigin(request, port)) return refuse(socket, 403, 'Forbidden')
    if (!isValidToken(url.searchParams.get('token'), token)) return refuse(socket, 401, 'Unauthorized')
    sockets.handleUpgrade(request, socket, head, (webSocket) => {
      // A malformed frame (invalid UTF-8, reserved bits or opcodes, no mask, too large) makes `ws` close the socket
      // and emit 'error'; unheard, that error would end the process. Only this client is dropped.
      webSocket.on('error', () => webSocket.terminate())
      serveContract(options.engine, webSocketPort(webSocket))
    })
  })

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, '127.0.0.1', () => {
      server.off('error', reject)
      resolve()
    })
  })
  const address = server.address()
  if (address === null || typeof address === 'string') throw new Error('The server has no TCP address.')
  port = address.port

  return {
    url: `http://127.0.0.1:${port}/?token=${token}`,
    port,
    token,
    async close() {
      for (const client of sockets.clients) client.terminate()
      sockets.close()
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}
