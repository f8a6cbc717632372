import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs'
import { request as httpRequest } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { WebSocket } from 'ws'
import { createEngine, type Engine } from '../../src/main/core/engine.ts'
import { startBrowserServer, type BrowserServer } from '../../src/main/server/browser-server.ts'
import { emptyStyleHash } from '../../src/shared/style-policy.ts'
import { webSocketPort } from '../../src/main/server/websocket-port.ts'
import { createClient, type TillerClient } from '../../src/shared/contract-client.ts'
import { bridgeOverPort } from '../../src/shared/contract-port.ts'
import type { JobDone } from '../../src/shared/jobs.ts'
import { createFakeRuntime, fakeProviders } from '../contract/fake-runtime.ts'

let directory: string
let engine: Engine
let server: BrowserServer
const indexHtml = '<!doctype html><title>Tiller test page</title>'

beforeAll(async () => {
  directory = mkdtempSync(join(tmpdir(), 'tiller-server-'))
  mkdirSync(join(directory, 'assets'))
  writeFileSync(join(directory, 'index.html'), indexHtml)
  writeFileSync(join(directory, 'assets', 'app.js'), 'console.log(1)')
  engine = createEngine({ runtime: createFakeRuntime().runtime })
  server = await startBrowserServer({ engine, rendererDirectory: directory })
})

afterAll(async () => {
  await server.close()
  await engine.dispose()
  rmSync(directory, { recursive: true, force: true })
})

/** A raw GET, so the test controls the path bytes and the Host header. */
function get(path: string, host = `127.0.0.1:${server.port}`) {
  return new Promise<{ status: number; body: string; headers: Record<string, unknown> }>(
    (resolve, reject) => {
      const request = httpRequest(
        { host: '127.0.0.1', port: server.port, path, headers: { host } },
        (response) => {
          let body = ''
          response.on('data', (chunk: Buffer) => (body += chunk.toString('utf8')))
          response.on('end', () =>
            resolve({ status: response.statusCode ?? 0, body, headers: response.headers }),
          )
        },
      )
      request.on('error', reject)
      request.end()
    },
  )
}

/** Open the contract socket; resolves with the socket, or with the HTTP status the server refused it with. */
function openSocket(query: string, headers: Record<string, string> = {}) {
  return new Promise<WebSocket | number>((resolve, reject) => {
    const socket = new WebSocket(`ws://127.0.0.1:${server.port}/contract${query}`, { headers })
    socket.once('open', () => resolve(socket))
    socket.once('unexpected-response', (_request, response) => resolve(response.statusCode ?? 0))
    socket.once('error', reject)
  })
}

async function connectClient(): Promise<{ client: TillerClient; socket: WebSocket }> {
  const socket = await openSocket(`?token=${server.token}`, { origin: `http://127.0.0.1:${server.port}` })
  if (typeof socket === 'number') throw new Error(`the server refused the right token with ${socket}`)
  return { client: createClient(bridgeOverPort(webSocketPort(socket))), socket }
}

describe('browser mode server', () => {
  test('binds to loopback on a random port and prints a URL carrying a long random token', () => {
    expect(server.port).toBeGreaterThan(0)
    expect(server.token.length).toBeGreaterThanOrEqual(32)
    expect(server.url).toBe(`http://127.0.0.1:${server.port}/?token=${server.token}`)
  })

  test('serves the built renderer, with index.html for routes and refusals outside the folder', async () => {
    const page = await get('/')
    expect(page.status).toBe(200)
    expect(page.body).toBe(indexHtml)
    expect(page.headers['content-type']).toBe('text/html; charset=utf-8')
    expect(page.headers['cache-control']).toBe('no-store')
    expect((await get('/assets/app.js')).body).toBe('console.log(1)')
    expect((await get('/settings')).body).toBe(indexHtml)
    expect((await get('/assets/missing.js')).status).toBe(404)
    expect((await get('/..%2f..%2f..%2fetc%2fpasswd')).status).toBe(403)
  })

  test('sends its content security policy and forbids framing as HTTP headers, on every answer', async () => {
    for (const path of [
      '/',
      '/assets/app.js',
      '/settings',
      '/assets/missing.js',
      '/..%2f..%2fetc%2fpasswd',
    ]) {
      const { headers } = await get(path)
      expect(headers['x-frame-options'], path).toBe('DENY')
      const policy = String(headers['content-security-policy'])
      const directives = new Map(
        policy.split(';').map((directive) => {
          const [name, ...values] = directive.trim().split(/\s+/)
          return [name, values] as const
        }),
      )
      expect(directives.get('frame-ancestors'), path).toEqual(["'none'"])
      expect(directives.get('script-src'), path).toEqual(["'self'"])
      // 'self' and the empty style's hash only: no inline style with content can apply.
      expect(directives.get('style-src'), path).toEqual(["'self'", `'${emptyStyleHash}'`])
      expect(directives.get('default-src'), path).toEqual(["'self'"])
      expect(directives.get('object-src'), path).toEqual(["'none'"])
      expect(policy, path).not.toContain('unsafe')
    }
    expect((await get('/', 'attacker.example:80')).headers['x-frame-options']).toBe('DENY')
  })

  test('answers only to its own Host name', async () => {
    expect((await get('/', 'attacker.example:80')).status).toBe(421)
    expect((await get('/', `localhost:${server.port}`)).status).toBe(200)
  })

  test('the contract socket needs the token and a matching Origin and Host', async () => {
    const origin = `http://127.0.0.1:${server.port}`
    expect(await openSocket('', { origin })).toBe(401)
    expect(await openSocket('?token=wrong', { origin })).toBe(401)
    expect(await openSocket(`?token=${server.token}x`, { origin })).toBe(401)
    expect(await openSocket(`?token=${server.token}`, { origin: 'http://evil.example' })).toBe(403)
    expect(
      await openSocket(`?token=${server.token}`, { origin: `http://127.0.0.1:${server.port + 1}` }),
    ).toBe(403)
    expect(await openSocket(`?token=${server.token}`, { origin, host: 'evil.example' })).toBe(421)
  })

  test('requests and events round-trip over the WebSocket', async () => {
    const { client, socket } = await connectClient()
    try {
      const status = await client['engine:status']({})
      expect(status.providers).toEqual(fakeProviders)
      const done = new Promise<JobDone>((resolve) => client.on('job:done', resolve))
      const started = await client['model:load']({ path: '/models/over-the-wire' })
      expect(await done).toMatchObject({
        id: started.id,
        outcome: 'succeeded',
        result: { path: '/models/over-the-wire' },
      })
      const error = await client['model:load']({ path: '' }).catch((thrown: unknown) => thrown)
      expect(error).toMatchObject({ name: 'ContractError', code: 'invalid-argument', subject: 'path' })
    } finally {
      socket.close()
    }
  })

  test('events reach every connected client', async () => {
    const first = await connectClient()
    const second = await connectClient()
    try {
      const heard = [first, second].map(
        ({ client }) =>
          new Promise<string>((resolve) =>
            client.on('model:changed', (state) => resolve(state.loading?.path ?? '')),
          ),
      )
      await first.client['model:load']({ path: '/models/shared' })
      expect(await Promise.all(heard)).toEqual(['/models/shared', '/models/shared'])
    } finally {
      first.socket.close()
      second.socket.close()
    }
  })
})
