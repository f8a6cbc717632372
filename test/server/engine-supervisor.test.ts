import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { startBrowserServer, type BrowserServer } from '../../src/main/server/browser-server.ts'
import { superviseEngine, type ChildEngine } from '../../src/main/server/engine-supervisor.ts'
import type { Conversation } from '../../src/shared/chat.ts'
import type { EngineHealth } from '../../src/shared/engine-health.ts'
import type { JobDone } from '../../src/shared/jobs.ts'
import { connectClient } from './helpers/server-clients.ts'

const savedConversation: Conversation = {
  id: 'survives-restart',
  title: 'Saved before the engine was killed',
  created: '2026-12-03T10:00:00.000Z',
  updated: '2026-12-03T10:01:00.000Z',
  systemPrompt: 'Answer briefly.',
  turns: [],
  edits: [],
  sampling: {
    maxTokens: 24,
    temperature: 0,
    topK: 0,
    topP: 1,
    repetitionPenalty: 1,
    seed: 3,
    stopStrings: [],
  },
}

let directory = ''
let engine: ChildEngine
let server: BrowserServer
const reports: string[] = []

beforeAll(async () => {
  directory = mkdtempSync(join(tmpdir(), 'tiller-supervisor-'))
  writeFileSync(join(directory, 'index.html'), '<!doctype html><title>Tiller</title>')
  engine = superviseEngine({
    entry: new URL('./helpers/blocking-engine-child.ts', import.meta.url),
    heartbeatMilliseconds: 50,
    // Long enough that a healthy engine on a heavily loaded machine is never taken for a hung one.
    unresponsiveMilliseconds: 15_000,
    report: (message) => reports.push(message),
  })
  server = await startBrowserServer({ engine, rendererDirectory: directory })
})

afterAll(async () => {
  await server.close()
  await engine.dispose()
  rmSync(directory, { recursive: true, force: true })
})

describe('browser mode with an engine that stops responding', () => {
  test('the blocked job fails with the reason, the engine restarts and answers again', async () => {
    const client = await connectClient(server)
    const done: JobDone[] = []
    client.on('job:done', (payload) => done.push(payload))
    const health: EngineHealth[] = []
    client.on('engine:health', (payload) => health.push(payload))
    const finished = (id: string) => done.find((job) => job.id === id)?.outcome
    const load = await client['model:load']({ path: '/models/fake' })
    await expect.poll(() => finished(load.id), { timeout: 120_000 }).toBe('succeeded')

    // Works before: a normal generation finishes.
    const first = await client['generate:start']({ prompt: 'hi', options: { maxTokens: 2 } })
    await expect.poll(() => done.find((job) => job.id === first.id)?.outcome).toBe('succeeded')

    const blocked = await client['generate:start']({ prompt: 'hang', options: { maxTokens: 2 } })
    await expect
      .poll(() => done.find((job) => job.id === blocked.id), { timeout: 120_000 })
      .toMatchObject({
        outcome: 'failed',
        error: { code: 'engine-not-responding' },
      })
    expect(reports.some((report) => report.includes('engine not responding'))).toBe(true)
    expect(engine.restarts()).toBe(1)
    // Clients hear it: the engine is restarting, for that reason, with the failed job named.
    await expect
      .poll(() => health.find((entry) => entry.state === 'restarting'))
      .toMatchObject({
        reason: { code: 'engine-not-responding' },
        restarts: 1,
        failedJobs: [blocked.id],
      })

    // The restarted engine answers: the model is loaded again and generation works.
    const reload = await client['model:load']({ path: '/models/fake' })
    await expect.poll(() => finished(reload.id), { timeout: 120_000 }).toBe('succeeded')
    expect(health.at(-1)?.state).toBe('ready')
    const after = await client['generate:start']({ prompt: 'ok', options: { maxTokens: 2 } })
    await expect
      .poll(() => done.find((job) => job.id === after.id)?.outcome, { timeout: 120_000 })
      .toBe('succeeded')
  })

  test('an engine that exits is restarted, and its running job fails saying so', async () => {
    const client = await connectClient(server)
    const done: JobDone[] = []
    client.on('job:done', (payload) => done.push(payload))
    const finished = (id: string) => done.find((job) => job.id === id)
    const load = await client['model:load']({ path: '/models/fake' })
    await expect.poll(() => finished(load.id)?.outcome, { timeout: 120_000 }).toBe('succeeded')
    const restartsBefore = engine.restarts()
    const crashing = await client['generate:start']({ prompt: 'crash', options: { maxTokens: 2 } })
    await expect
      .poll(() => finished(crashing.id), { timeout: 120_000 })
      .toMatchObject({
        outcome: 'failed',
        error: { code: 'engine-exited', message: expect.stringContaining('exited (code 3)') },
      })
    expect(engine.restarts()).toBe(restartsBefore + 1)
    const reload = await client['model:load']({ path: '/models/fake' })
    await expect.poll(() => finished(reload.id)?.outcome, { timeout: 120_000 }).toBe('succeeded')
  })

  test('killing the engine tells every client: restarting with the failed job, then ready again', async () => {
    const client = await connectClient(server)
    const health: EngineHealth[] = []
    const done: JobDone[] = []
    client.on('engine:health', (payload) => health.push(payload))
    client.on('job:done', (payload) => done.push(payload))
    const load = await client['model:load']({ path: '/models/fake' })
    await expect
      .poll(() => done.find((job) => job.id === load.id)?.outcome, { timeout: 120_000 })
      .toBe('succeeded')
    // Saved work: a conversation saved through the contract before the kill.
    const saved = await client['chat:save']({ conversation: savedConversation })
    const restartsBefore = engine.restarts()
    // A generation that never ends keeps a job running while the engine is killed.
    const running = await client['generate:start']({ prompt: 'hang', options: { maxTokens: 2 } })
    await engine.kill()
    await expect
      .poll(() => health.map((entry) => entry.state), { timeout: 120_000 })
      .toEqual(['restarting', 'ready'])
    expect(health[0]).toMatchObject({
      restarts: restartsBefore + 1,
      // Killed with SIGKILL: 128 + 9, as a shell reports it.
      reason: {
        code: 'engine-exited',
        message: expect.stringContaining(
          'The engine was killed by the system (SIGKILL, exit code 137: usually memory ran out',
        ),
      },
      failedJobs: [running.id],
    })
    // Ready again: the failure is over, the reason stays for the studio's notice.
    expect(health[1]).toMatchObject({ restarts: restartsBefore + 1, failedJobs: [] })
    expect(done.find((job) => job.id === running.id)).toMatchObject({ outcome: 'failed' })
    expect(engine.restarts()).toBe(restartsBefore + 1)
    // The restarted engine lists and reads what was saved before the kill.
    expect(await client['chat:list']({})).toContainEqual(saved)
    expect(await client['chat:load']({ id: savedConversation.id })).toEqual(savedConversation)
    expect(await client['chat:delete']({ id: savedConversation.id })).toEqual({ deleted: true })
  })
})
