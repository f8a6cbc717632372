import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { homedir, tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, test } from 'vitest'
import {
  ensureWorkspace,
  workspaceFolder,
  workspaceRoot,
  workspaceSettingsPath,
} from '../../src/main/core/workspace/workspace-root.ts'

const made: string[] = []
afterEach(() => {
  for (const folder of made.splice(0)) rmSync(folder, { recursive: true, force: true })
})

describe('workspace root', () => {
  test('TILLER_WORKSPACE wins on every platform', () => {
    for (const platform of ['linux', 'win32', 'darwin'] as const)
      expect(workspaceRoot({ TILLER_WORKSPACE: '/data/work' }, platform)).toBe('/data/work')
  })

  test('per-user data folder by platform when not configured', () => {
    expect(workspaceRoot({ XDG_DATA_HOME: '/x/data' }, 'linux')).toBe('/x/data/tiller')
    expect(workspaceRoot({}, 'linux')).toBe(join(homedir(), '.local', 'share', 'tiller'))
    expect(workspaceRoot({ APPDATA: '/roaming' }, 'win32')).toBe(join('/roaming', 'Tiller'))
    expect(workspaceRoot({ TILLER_WORKSPACE: '  ' }, 'darwin')).toBe(
      join(homedir(), 'Library', 'Application Support', 'Tiller'),
    )
  })

  test('ensureWorkspace creates every subfolder and nothing else', async () => {
    const root = join(mkdtempSync(join(tmpdir(), 'tiller-workspace-')), 'work')
    made.push(root)
    await ensureWorkspace(root)
    for (const folder of ['datasets', 'edits', 'chats', 'runs'] as const)
      expect(existsSync(workspaceFolder(folder, root))).toBe(true)
    expect(existsSync(workspaceSettingsPath(root))).toBe(false)
  })
})

test('the test run has its own workspace, never the user one', () => {
  expect(workspaceRoot()).toContain('tiller-test-workspace-')
})
