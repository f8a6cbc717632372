import { spawn } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, describe, expect, test } from 'vitest'
import { isRunning } from './helpers/server-clients.ts'

/** No orphan engines: the engine child dies with the server's process, even one killed outright mid native call. */

const directory = mkdtempSync(join(tmpdir(), 'tiller-orphan-'))

afterAll(() => rmSync(directory, { recursive: true, force: true }))

describe('the engine child process', () => {
  test('ends when the server process is killed while the engine is busy in native calls', async () => {
    const markerFile = join(directory, 'native-runs')
    const script = fileURLToPath(new URL('./helpers/supervising-parent.ts', import.meta.url))
    const parent = spawn(process.execPath, ['--import', 'tsx', script, markerFile], { stdio: 'inherit' })
    const parentExited = new Promise((resolve) => parent.once('exit', resolve))
    try {
      await expect.poll(() => existsSync(markerFile), { timeout: 120_000, interval: 100 }).toBe(true)
      const [engineProcess] = readFileSync(markerFile, 'utf8').split(' ').map(Number)
      expect(engineProcess).toBeGreaterThan(0)
      expect(engineProcess).not.toBe(parent.pid)
      expect(isRunning(engineProcess ?? 0)).toBe(true)
      // SIGKILL: the server runs no exit handler, so only the child's own watch on its channel can end it.
      parent.kill('SIGKILL')
      await parentExited
      await expect.poll(() => isRunning(engineProcess ?? 0), { timeout: 60_000, interval: 100 }).toBe(false)
    } finally {
      parent.kill('SIGKILL')
    }
  })
})
