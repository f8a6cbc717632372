import { describe, expect, test, vi } from 'vitest'
import { serveContract } from '../../src/shared/contract-port.ts'
import type { ContractEvent, ContractService } from '../../src/shared/contract.ts'
import type { EngineHealth } from '../../src/shared/engine-health.ts'
import { FakeClock } from '../helpers/fake-clock.ts'

/**
 * The desktop app's engine process without Electron: `electron` is replaced by fake utility processes and
 * message ports, so this checks the wiring — heartbeats over the process channel, the contract over the port, a
 * silent engine killed and forked again, the running job failed and `engine:health` sent to the windows.
 */

type Listener = (...values: unknown[]) => void

class Emitter {
  private readonly listeners = new Map<string, Set<Listener>>()
  on(name: string, listener: Listener): this {
    const set = this.listeners.get(name) ?? new Set()
    set.add(listener)
    this.listeners.set(name, set)
    return this
  }
  once(name: string, listener: Listener): this {
    const wrapped: Listener = (...values) => {
      this.off(name, wrapped)
      listener(...values)
    }
    return this.on(name, wrapped)
  }
  off(name: string, listener: Listener): this {
    this.listeners.get(name)?.delete(listener)
    return this
  }
  emit(name: string, ...values: unknown[]): void {
    for (const listener of [...(this.listeners.get(name) ?? [])]) listener(...values)
  }
}

class FakePort extends Emitter {
  other: FakePort | undefined
  closed = false
  postMessage(data: unknown): void {
    const other = this.other
    if (this.closed || other === undefined) return
    queueMicrotask(() => other.emit('message', { data }))
  }
  start(): void {}
  close(): void {
    if (this.closed) return
    this.closed = true
    this.emit('close')
  }
}

/** A fake engine host: serves a job-starting engine on the port it is sent and echoes heartbeats while `answering`. */
class FakeChild extends Emitter {
  answering = true
  killed = false
  constructor() {
    super()
  }
  postMessage(message: { kind: string }, transfer?: FakePort[]): void {
    if (message.kind === 'connect' && transfer?.[0] !== undefined) {
      const service = {
        subscribe: () => () => undefined,
        'generate:start': () => Promise.resolve({ id: `job-${children.length}`, kind: 'generate' }),
      } as unknown as ContractService
      serveContract(service, {
        send: (wire) => transfer[0]?.postMessage(wire),
        onMessage: (listener) => {
          const handle = (event: unknown) => listener((event as { data: unknown }).data)
          transfer[0]?.on('message', handle)
          return () => transfer[0]?.off('message', handle)
        },
        onClose: () => () => undefined,
        close: () => transfer[0]?.close(),
      })
      queueMicrotask(() => this.emit('message', { kind: 'heartbeat', beat: 0 }))
    } else if (message.kind === 'heartbeat' && this.answering && !this.killed) {
      queueMicrotask(() => this.emit('message', message))
    }
  }
  kill(): boolean {
    this.killed = true
    queueMicrotask(() => this.emit('exit', null))
    return true
  }
}

const children: FakeChild[] = []

vi.mock('electron', () => ({
  app: { getAppPath: () => '/app' },
  MessageChannelMain: class {
    port1 = new FakePort()
    port2 = new FakePort()
    constructor() {
      this.port1.other = this.port2
      this.port2.other = this.port1
    }
  },
  utilityProcess: {
    fork: () => {
      const child = new FakeChild()
      children.push(child)
      return child
    },
  },
}))

const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve))

describe("the desktop app's engine process", () => {
  test('restarts an engine host that stops answering heartbeats, failing its job and telling the windows', async () => {
    const { startEngineProcess } = await import('../../src/main/app/engine-process.ts')
    const clock = new FakeClock()
    const events: ContractEvent[] = []
    const reports: string[] = []
    const engine = startEngineProcess((name, payload) => events.push({ name, payload } as ContractEvent), {
      clock,
      heartbeatMilliseconds: 100,
      unresponsiveMilliseconds: 1000,
      report: (message) => reports.push(message),
    })
    await settle()
    const health = (): EngineHealth[] =>
      events.flatMap((event) => (event.name === 'engine:health' ? [event.payload] : []))
    expect(health().at(-1)?.state).toBe('ready')

    const started = await engine.request('generate:start', { prompt: 'hang' })
    expect(started).toEqual({ ok: true, result: { id: 'job-1', kind: 'generate' } })
    for (let tick = 0; tick < 20; tick++) {
      clock.advance(100)
      await settle()
    }
    expect(children).toHaveLength(1)

    const first = children[0] as FakeChild
    first.answering = false
    for (let tick = 0; tick < 12; tick++) {
      clock.advance(100)
      await settle()
    }
    expect(first.killed).toBe(true)
    expect(children).toHaveLength(2)
    expect(events).toContainEqual({
      name: 'job:done',
      payload: {
        id: 'job-1',
        kind: 'generate',
        outcome: 'failed',
        error: expect.objectContaining({ code: 'engine-not-responding' }),
      },
    })
    expect(health()).toContainEqual(
      expect.objectContaining({ state: 'restarting', restarts: 1, failedJobs: ['job-1'] }),
    )
    expect(reports).toEqual([expect.stringContaining('not responding')])

    // The forked host connects and answers: ready again, and requests reach it.
    await settle()
    expect(health().at(-1)?.state).toBe('ready')
    expect(await engine.request('generate:start', { prompt: 'ok' })).toEqual({
      ok: true,
      result: { id: 'job-2', kind: 'generate' },
    })
    engine.stop()
    await settle()
    expect(children[1]?.killed).toBe(true)
  })
})
