import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { connect, type Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { WebSocket } from 'ws'
import { createEngine, type Engine } from '../../src/main/core/engine.ts'
import { startBrowserServer, type BrowserServer } from '../../src/main/server/browser-server.ts'
import { webSocketPort } from '../../src/main/server/websocket-port.ts'
import { createClient } from '../../src/shared/contract-client.ts'
import { bridgeOverPort } from '../../src/shared/contract-port.ts'
import { createFakeRuntime, fakeProviders } from '../contract/fake-runtime.ts'

/**
 * A client holding the token sends one malformed WebSocket frame over raw TCP: the server drops that client and
 * keeps serving others. Before browser mode listened for the socket's 'error', each of these ended the process
 * (here: the test worker).
 */

let directory: string
let engine: Engine
let server: BrowserServer

beforeAll(async () => {
  directory = mkdtempSync(join(tmpdir(), 'tiller-frames-'))
  writeFileSync(join(directory, 'index.html'), '<!doctype html><title>frames</title>')
  engine = createEngine({ runtime: createFakeRuntime().runtime })
  server = await startBrowserServer({ engine, rendererDirectory: directory })
})

afterAll(async () => {
  await server.close()
  await engine.dispose()
  rmSync(directory, { recursive: true, force: true })
})

/** A raw TCP connection upgraded to the contract WebSocket with the right token; resolves after the 101. */
function rawUpgrade(): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect(server.port, '127.0.0.1')
    let answer = ''
    const onData = (chunk: Buffer): void => {
      answer += chunk.toString('latin1')
      if (!answer.includes('\r\n\r\n')) return
      socket.off('data', onData)
      if (answer.startsWith('HTTP/1.1 101')) resolve(socket)
      else reject(new Error(`the upgrade was refused: ${answer.split('\r\n')[0]}`))
    }
    socket.on('data', onData)
    socket.once('error', reject)
    socket.once('connect', () => {
      socket.write(
        [
          `GET /contract?token=${server.token} HTTP/1.1`,
          `Host: 127.0.0.1:${server.port}`,
          'Upgrade: websocket',
          'Connection: Upgrade',
          `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}`,
          'Sec-WebSocket-Version: 13',
          `Origin: http://127.0.0.1:${server.port}`,
          '',
          '',
        ].join('\r\n'),
      )
    })
  })
}

/** A client frame: first byte (FIN, RSV bits, opcode), then length, mask key and the masked payload. */
function frame(first: number, payload: Buffer, options: { masked?: boolean } = {}): Buffer {
  const masked = options.masked ?? true
  if (payload.length > 125) throw new Error('test frames keep to the 7-bit length form')
  const mask = randomBytes(4)
  const body = masked ? payload.map((byte, index) => byte ^ (mask[index % 4] ?? 0)) : payload
  return Buffer.concat([
    Buffer.from([first, (masked ? 0x80 : 0) | payload.length]),
    masked ? mask : Buffer.alloc(0),
    body,
  ])
}

/** Writes `bytes` and resolves once the server has ended the connection. */
function sendAndAwaitClose(socket: Socket, bytes: Buffer): Promise<void> {
  return new Promise((resolve) => {
    socket.on('data', () => undefined)
    // The server may reset rather than close; either way the connection is gone.
    socket.on('error', () => undefined)
    socket.once('close', () => resolve())
    socket.write(bytes)
  })
}

async function expectGoodClientServed(): Promise<void> {
  const socket = await new Promise<WebSocket>((resolve, reject) => {
    const client = new WebSocket(`ws://127.0.0.1:${server.port}/contract?token=${server.token}`, {
      headers: { origin: `http://127.0.0.1:${server.port}` },
    })
    client.once('open', () => resolve(client))
    client.once('error', reject)
  })
  try {
    const client = createClient(bridgeOverPort(webSocketPort(socket)))
    expect((await client['engine:status']({})).providers).toEqual(fakeProviders)
  } finally {
    socket.close()
  }
}

const hello = Buffer.from(JSON.stringify({ hello: 'there' }))
// A header claiming a 256 MiB binary payload (64-bit length form), masked, with no payload following.
const hugeHeader = Buffer.concat([
  Buffer.from([0x82, 0x80 | 127]),
  Buffer.from([0, 0, 0, 0, 0x10, 0, 0, 0]),
  randomBytes(4),
])

const malformed: [string, Buffer][] = [
  ['a text frame of invalid UTF-8', frame(0x81, Buffer.from([0x7b, 0xff, 0xfe, 0x7d]))],
  ['a header claiming 256 MiB', hugeHeader],
  ['RSV1 set without a negotiated extension', frame(0xc1, hello)],
  ['RSV2 and RSV3 set', frame(0xb1, hello)],
  ['the reserved data opcode 3', frame(0x83, hello)],
  ['the reserved control opcode 0xB', frame(0x8b, Buffer.alloc(0))],
  ['an unmasked client frame', frame(0x81, hello, { masked: false })],
]

describe('browser mode survives malformed WebSocket frames', () => {
  test('a good client is served before anything goes wrong', async () => {
    await expectGoodClientServed()
  })

  test.each(malformed)('%s drops only that client', async (_name, bytes) => {
    const bystander = await rawUpgrade()
    const offender = await rawUpgrade()
    await sendAndAwaitClose(offender, bytes)
    expect(offender.destroyed).toBe(true)
    // Another raw client that was already connected is untouched, and new clients are served.
    expect(bystander.destroyed).toBe(false)
    bystander.destroy()
    await expectGoodClientServed()
  })

  test('a well-formed frame on the same raw connection is answered, so the refusals above are about the frames', async () => {
    const socket = await rawUpgrade()
    const request = { kind: 'request', id: 1, name: 'engine:status', args: {} }
    const answered = new Promise<string>((resolve) => {
      socket.once('data', (chunk: Buffer) => resolve(chunk.toString('utf8')))
    })
    socket.write(frame(0x81, Buffer.from(JSON.stringify(request))))
    expect(await answered).toContain('"id":1')
    socket.destroy()
  })
})
