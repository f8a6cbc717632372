import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { startBrowserServer, type BrowserServer } from '../../src/main/server/browser-server.ts'
import { superviseEngine, type ChildEngine } from '../../src/main/server/engine-supervisor.ts'
import type { EngineHealth } from '../../src/shared/engine-health.ts'
import type { JobDone } from '../../src/shared/jobs.ts'
import { connectClient, isRunning } from './helpers/server-clients.ts'

/**
 * Issue #18's regression: an engine busy in a long asynchronous native ONNX Runtime call is declared unresponsive
 * and killed. With the engine in a worker thread, terminating it mid-call aborted the whole process (server and
 * every client); with the engine in a child process the server lives on and serves the restarted engine.
 */

let directory = ''
let markerFile = ''
let engine: ChildEngine
let server: BrowserServer
const reports: string[] = []

beforeAll(async () => {
  directory = mkdtempSync(join(tmpdir(), 'tiller-native-call-'))
  markerFile = join(directory, 'native-runs')
  writeFileSync(join(directory, 'index.html'), '<!doctype html><title>Tiller</title>')
  engine = superviseEngine({
    entry: new URL('./helpers/native-busy-engine-child.ts', import.meta.url),
    settings: { markerFile },
    // Short, for this test only: the native work lasts until the engine is killed, however long that takes.
    heartbeatMilliseconds: 100,
    unresponsiveMilliseconds: 2000,
    report: (message) => reports.push(message),
  })
  server = await startBrowserServer({ engine, rendererDirectory: directory })
})

afterAll(async () => {
  await server.close()
  await engine.dispose()
  rmSync(directory, { recursive: true, force: true })
})

describe('an engine busy in a native ONNX Runtime call', () => {
  test('is killed as unresponsive while the server lives on and serves the restarted engine', async () => {
    const client = await connectClient(server)
    const done: JobDone[] = []
    const health: EngineHealth[] = []
    client.on('job:done', (payload) => done.push(payload))
    client.on('engine:health', (payload) => health.push(payload))
    const finished = (id: string) => done.find((job) => job.id === id)
    const load = await client['model:load']({ path: '/models/fake' })
    await expect.poll(() => finished(load.id)?.outcome, { timeout: 120_000 }).toBe('succeeded')

    const busy = await client['generate:start']({ prompt: 'native', options: { maxTokens: 2 } })
    await expect
      .poll(() => finished(busy.id), { timeout: 120_000 })
      .toMatchObject({ outcome: 'failed', error: { code: 'engine-not-responding' } })
    // A native run had started in the engine that was killed, and that process is gone.
    const [killedProcess, runsStarted] = readFileSync(markerFile, 'utf8').split(' ').map(Number)
    expect(runsStarted).toBeGreaterThanOrEqual(1)
    expect(killedProcess).not.toBe(process.pid)
    await expect.poll(() => isRunning(killedProcess ?? 0), { timeout: 60_000 }).toBe(false)
    expect(reports.some((report) => report.includes('engine not responding'))).toBe(true)
    expect(health.find((entry) => entry.state === 'restarting')).toMatchObject({
      reason: { code: 'engine-not-responding' },
      failedJobs: [busy.id],
    })

    // This process (the server) is alive, and it serves the restarted engine: the model loads, generation works.
    await expect.poll(() => health.at(-1)?.state, { timeout: 120_000 }).toBe('ready')
    const reload = await client['model:load']({ path: '/models/fake' })
    await expect.poll(() => finished(reload.id)?.outcome, { timeout: 120_000 }).toBe('succeeded')
    const after = await client['generate:start']({ prompt: 'ok', options: { maxTokens: 2 } })
    await expect.poll(() => finished(after.id)?.outcome, { timeout: 120_000 }).toBe('succeeded')
  })
})
