import { describe, expect, it } from 'vitest'
import { eventNames, requestNames, type EventName } from '../../src/shared/contract-names.ts'
import type { ContractEvent, Outcome, TillerBridge } from '../../src/shared/contract.ts'
import type { EngineHealth } from '../../src/shared/engine-health.ts'
import type { ErrorInfo, JobDone } from '../../src/shared/jobs.ts'
import {
  describeExit,
  watchEngine,
  type EngineInstance,
  type EngineSignals,
} from '../../src/main/supervision/engine-watchdog.ts'
import { FakeClock } from '../helpers/fake-clock.ts'

/**
 * The watchdog without threads, processes or Electron: a fake clock that advances on demand, and fake engines
 * whose heartbeats, exits, requests and events the test drives.
 */

/** A fake engine: answers heartbeats while `answering`, keeps requests pending until the test settles them. */
class FakeEngine implements EngineInstance {
  answering = true
  terminated = false
  heartbeats = 0
  readonly pending = new Map<string, (outcome: Outcome<unknown>) => void>()
  private readonly listeners = new Map<EventName, Set<(payload: unknown) => void>>()
  readonly bridge: TillerBridge

  constructor(readonly signals: EngineSignals) {
    const bridge: Record<string, unknown> = {
      on: (name: EventName, listener: (payload: unknown) => void) => {
        const set = this.listeners.get(name) ?? new Set()
        set.add(listener)
        this.listeners.set(name, set)
        return () => set.delete(listener)
      },
    }
    for (const name of requestNames) {
      bridge[name] = () => new Promise((resolve) => this.pending.set(name, resolve))
    }
    this.bridge = bridge as TillerBridge
  }
  sendHeartbeat(): void {
    this.heartbeats += 1
    if (this.answering) this.signals.heartbeat()
  }
  terminate(): void {
    this.terminated = true
  }
  emit(name: EventName, payload: unknown): void {
    for (const listener of this.listeners.get(name) ?? []) listener(payload)
  }
  answer(name: string, outcome: Outcome<unknown>): void {
    const resolve = this.pending.get(name)
    this.pending.delete(name)
    resolve?.(outcome)
  }
}

function setUp(maximumRestarts = 5) {
  const clock = new FakeClock()
  const engines: FakeEngine[] = []
  const reports: string[] = []
  const watched = watchEngine({
    launch: (signals) => {
      const engine = new FakeEngine(signals)
      engines.push(engine)
      return engine
    },
    heartbeatMilliseconds: 100,
    unresponsiveMilliseconds: 1000,
    startupMilliseconds: 5000,
    maximumRestarts,
    report: (message) => reports.push(message),
    clock,
  })
  const events: ContractEvent[] = []
  watched.subscribe((event) => events.push(event))
  const healthEvents = (): EngineHealth[] =>
    events.flatMap((event) => (event.name === 'engine:health' ? [event.payload] : []))
  const jobsDone = (): JobDone[] =>
    events.flatMap((event) => (event.name === 'job:done' ? [event.payload] : []))
  return { clock, engines, reports, watched, events, healthEvents, jobsDone }
}

/** Let resolved promises run their continuations. */
const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve))

describe('engine watchdog', () => {
  it('says how the engine ended in words, and what to do when the system killed it', () => {
    expect(describeExit(137)).toContain('memory ran out')
    expect(describeExit(139)).toContain('SIGSEGV')
    expect(describeExit(3)).toBe('exited (code 3)')
    expect(describeExit(null)).toBe('exited without an exit code')
  })

  it('keeps a healthy engine: heartbeats answered, requests and events relayed, no restart', async () => {
    const { clock, engines, watched, events, healthEvents } = setUp()
    expect(watched.health().state).toBe('starting')
    clock.advance(60_000)
    expect(engines).toHaveLength(1)
    expect(engines[0]?.heartbeats).toBe(600)
    expect(watched.restarts()).toBe(0)
    expect(healthEvents()).toEqual([{ state: 'ready', reason: null, restarts: 0, failedJobs: [] }])
    const info = watched['model:info']({})
    engines[0]?.answer('model:info', { ok: true, result: { loaded: false } })
    await expect(info).resolves.toEqual({ loaded: false })
    const refused = watched['model:load']({ path: '/nowhere' })
    const error: ErrorInfo = { code: 'file-not-found', message: 'No model at /nowhere.', subject: '/nowhere' }
    engines[0]?.answer('model:load', { ok: false, error })
    await expect(refused).rejects.toEqual(error)
    engines[0]?.emit('model:changed', { state: 'idle' })
    expect(events.at(-1)).toEqual({ name: 'model:changed', payload: { state: 'idle' } })
    expect(eventNames).toContain('engine:health')
  })

  it('restarts an engine that stops answering, failing its requests and running jobs with the reason', async () => {
    const { clock, engines, reports, watched, events, healthEvents, jobsDone } = setUp()
    clock.advance(500)
    const first = engines[0] as FakeEngine
    const started = watched['generate:start']({ prompt: 'hang' })
    first.answer('generate:start', { ok: true, result: { id: 'job-1', kind: 'generate' } })
    await expect(started).resolves.toEqual({ id: 'job-1', kind: 'generate' })
    const stuck = watched['job:list']({})
    await settle()

    first.answering = false
    clock.advance(1000)
    // Exactly at the limit: not yet (the limit must be exceeded).
    expect(watched.restarts()).toBe(0)
    clock.advance(100)
    expect(watched.restarts()).toBe(1)
    expect(first.terminated).toBe(true)
    expect(engines).toHaveLength(2)
    const reason = {
      code: 'engine-not-responding',
      message: expect.stringContaining('stopped responding for 1 s'),
    }
    await expect(stuck).rejects.toMatchObject(reason)
    expect(jobsDone()).toEqual([
      { id: 'job-1', kind: 'generate', outcome: 'failed', error: expect.objectContaining(reason) },
    ])
    expect(healthEvents().at(-1)).toMatchObject({
      state: 'restarting',
      reason,
      restarts: 1,
      failedJobs: ['job-1'],
    })
    expect(reports).toEqual([expect.stringContaining('not responding')])

    // The old engine's late events and heartbeats are ignored; the new one becomes ready on its first answer.
    const count = events.length
    first.emit('job:done', { id: 'job-1', kind: 'generate', outcome: 'succeeded' })
    first.signals.heartbeat()
    expect(events).toHaveLength(count)
    expect(watched.health().state).toBe('restarting')
    clock.advance(100)
    expect(watched.health()).toEqual({
      state: 'ready',
      reason: expect.objectContaining(reason),
      restarts: 1,
      failedJobs: [],
    })
    expect(engines[1]?.terminated).toBe(false)
  })

  it('gives a starting engine the startup limit, not the unresponsive one', () => {
    const { clock, engines, watched } = setUp()
    const first = engines[0] as FakeEngine
    first.answering = false
    clock.advance(4900)
    expect(watched.restarts()).toBe(0)
    clock.advance(200)
    expect(watched.restarts()).toBe(1)
    expect(first.terminated).toBe(true)
  })

  it('restarts an engine that exits, and stops trying after the last allowed restart', async () => {
    const { clock, engines, watched, healthEvents } = setUp(2)
    clock.advance(200)
    engines[0]?.signals.exited(134)
    expect(watched.restarts()).toBe(1)
    expect(healthEvents().at(-1)).toMatchObject({
      state: 'restarting',
      reason: {
        code: 'engine-exited',
        message:
          'The engine aborted (SIGABRT, exit code 134: a native library such as ONNX Runtime stopped it) and was ' +
          'restarted; run it again.',
      },
    })
    // A stale exit of the replaced engine changes nothing.
    engines[0]?.signals.exited(134)
    expect(watched.restarts()).toBe(1)
    engines[1]?.signals.exited(1)
    expect(watched.restarts()).toBe(2)
    engines[2]?.signals.exited(1)
    expect(engines).toHaveLength(3)
    expect(watched.health()).toMatchObject({
      state: 'stopped',
      reason: { code: 'engine-exited', message: 'The engine exited (code 1); restart Tiller.' },
    })
    await expect(watched['model:info']({})).rejects.toMatchObject({ code: 'disconnected' })
    clock.advance(60_000)
    expect(engines).toHaveLength(3)
  })

  it('stops its engine and its timer on dispose', async () => {
    const { clock, engines, watched } = setUp()
    clock.advance(300)
    await watched.dispose()
    expect(engines[0]?.terminated).toBe(true)
    const beats = engines[0]?.heartbeats
    clock.advance(60_000)
    expect(engines[0]?.heartbeats).toBe(beats)
    expect(engines).toHaveLength(1)
  })
})
