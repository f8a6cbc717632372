import {
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { listFolder } from '../../src/main/core/files/folder-listing.ts'
import { isTillerError } from '../../src/main/core/errors.ts'
import {
  readSettings,
  recentModelLimit,
  updateSettings,
  withModelFolder,
  withRecentModel,
} from '../../src/main/core/workspace/studio-settings.ts'

let root = ''
beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'tiller-settings-'))
})
afterAll(() => rmSync(root, { recursive: true, force: true }))

describe('studio settings', () => {
  test('a missing file reads as the defaults; updates are written and read back', async () => {
    const path = join(root, 'fresh', 'settings.json')
    expect(await readSettings(path)).toEqual({
      theme: 'system',
      recentModels: [],
      modelFolders: [],
      welcomeDismissed: false,
    })
    expect(await updateSettings(() => ({ theme: 'dark' }), path)).toMatchObject({ theme: 'dark' })
    expect(JSON.parse(readFileSync(path, 'utf8'))).toMatchObject({ theme: 'dark' })
    expect((await readSettings(path)).theme).toBe('dark')
  })

  test('keys other parts of the studio own are kept across updates', async () => {
    const path = join(root, 'shared', 'settings.json')
    mkdirSync(join(root, 'shared'))
    writeFileSync(path, JSON.stringify({ chat: { lastSystemPrompt: 'Be brief.' } }))
    await updateSettings(() => ({ theme: 'light' }), path)
    expect(JSON.parse(readFileSync(path, 'utf8'))).toEqual({
      chat: { lastSystemPrompt: 'Be brief.' },
      theme: 'light',
      recentModels: [],
      modelFolders: [],
      welcomeDismissed: false,
    })
  })

  test('concurrent updates do not overwrite each other', async () => {
    const path = join(root, 'concurrent', 'settings.json')
    await Promise.all(
      ['/a', '/b', '/c', '/d'].map((folder) =>
        updateSettings((current) => ({ modelFolders: withModelFolder(current.modelFolders, folder) }), path),
      ),
    )
    expect((await readSettings(path)).modelFolders.sort()).toEqual(['/a', '/b', '/c', '/d'])
  })

  test('a damaged file is set aside and the defaults apply', async () => {
    const folder = join(root, 'damaged')
    mkdirSync(folder)
    writeFileSync(join(folder, 'settings.json'), '{"theme": "purple"')
    expect(await readSettings(join(folder, 'settings.json'))).toEqual({
      theme: 'system',
      recentModels: [],
      modelFolders: [],
      welcomeDismissed: false,
    })
    const names = readdirSync(folder)
    expect(names.some((name) => name.startsWith('settings.json.damaged-'))).toBe(true)
    expect(names).not.toContain('settings.json')
  })

  test('recent models: newest first, one entry per folder, at most the limit', () => {
    let recent = withRecentModel([], { path: '/m/a', name: 'a', architecture: 'llama', loadedAt: 1 })
    recent = withRecentModel(recent, { path: '/m/b', name: 'b', architecture: 'llama', loadedAt: 2 })
    recent = withRecentModel(recent, { path: '/m/a/', name: 'a', architecture: 'llama', loadedAt: 3 })
    expect(recent.map((entry) => [entry.path, entry.loadedAt])).toEqual([
      ['/m/a', 3],
      ['/m/b', 2],
    ])
    for (let index = 0; index < 30; index++) {
      recent = withRecentModel(recent, { path: `/m/${index}`, name: '', architecture: '', loadedAt: index })
    }
    expect(recent).toHaveLength(recentModelLimit)
    expect(recent[0]?.path).toBe('/m/29')
  })
})

describe('folder listing (browser mode picker)', () => {
  test('folders first, model folders marked, files with sizes, the parent named', async () => {
    const folder = join(root, 'listing')
    mkdirSync(join(folder, 'zeta-model', 'onnx'), { recursive: true })
    writeFileSync(join(folder, 'zeta-model', 'config.json'), '{}')
    writeFileSync(join(folder, 'zeta-model', 'onnx', 'model.onnx'), 'x')
    mkdirSync(join(folder, 'alpha'))
    writeFileSync(join(folder, 'b.gguf'), new Uint8Array(42))
    const listing = await listFolder(folder)
    expect(listing.path).toBe(folder)
    expect(listing.parent).toBe(root)
    expect(listing.entries.map((entry) => [entry.name, entry.kind, entry.isModel, entry.sizeBytes])).toEqual([
      ['alpha', 'folder', false, null],
      ['zeta-model', 'folder', true, null],
      ['b.gguf', 'file', false, 42],
    ])
    expect(listing.places.map((place) => place.label)).toEqual(['Home', 'Workspace', 'File system'])
    expect((await listFolder('/')).parent).toBeNull()
  })

  test('a missing folder and a file are refused with what to do', async () => {
    await expect(listFolder(join(root, 'nowhere'))).rejects.toSatisfy(
      (error) => isTillerError(error, 'file-not-found') && error.message.includes('choose another folder'),
    )
    writeFileSync(join(root, 'plain.txt'), 'x')
    await expect(listFolder(join(root, 'plain.txt'))).rejects.toSatisfy(
      (error) => isTillerError(error, 'invalid-argument') && error.message.includes('choose the folder'),
    )
  })

  test('entries that cannot be read are reported, not hidden', async () => {
    const folder = join(root, 'broken-links')
    mkdirSync(folder)
    symlinkSync(join(folder, 'missing-target'), join(folder, 'dangling'))
    writeFileSync(join(folder, 'ok.txt'), 'x')
    const listing = await listFolder(folder)
    expect(listing.entries.map((entry) => entry.name)).toEqual(['ok.txt'])
    expect(listing.unreadable).toEqual([{ name: 'dangling', reason: 'a broken link' }])
  })
})
