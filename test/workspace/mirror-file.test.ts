import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { isTillerError } from '../../src/main/core/errors.ts'
import { mirrorFile } from '../../src/main/core/workspace/mirror-file.ts'

// Hard links fail across file systems; `linkFailure` makes them fail here so the copy path runs on one disk.
const linking = vi.hoisted(() => ({ failure: undefined as string | undefined }))
vi.mock('node:fs', async (importOriginal) => {
  const original = await importOriginal<typeof import('node:fs')>()
  return {
    ...original,
    linkSync: (existing: string, created: string) => {
      if (linking.failure !== undefined) {
        throw Object.assign(new Error(`${linking.failure}: cross-device link`), { code: linking.failure })
      }
      original.linkSync(existing, created)
    },
  }
})

let folder: string
const limit = { copyLimitBytes: 1024 }

beforeEach(() => {
  folder = mkdtempSync(join(tmpdir(), 'tiller-mirror-'))
  linking.failure = undefined
})

afterEach(() => {
  rmSync(folder, { recursive: true, force: true })
})

describe('mirrorFile', () => {
  it('hard-links the source (same inode), then reuses the link', async () => {
    const source = join(folder, 'weights.bin')
    writeFileSync(source, 'weights')
    const target = join(folder, 'cache', 'deep', 'weights.bin')
    expect(await mirrorFile(source, target, limit)).toBe('link')
    expect(statSync(target).ino).toBe(statSync(source).ino)
    expect(await mirrorFile(source, target, limit)).toBe('present')
    expect(readdirSync(join(folder, 'cache', 'deep'))).toEqual(['weights.bin'])
  })

  it('replaces a stale mirror when the source file was replaced', async () => {
    const source = join(folder, 'weights.bin')
    writeFileSync(source, 'old weights')
    const target = join(folder, 'mirror.bin')
    await mirrorFile(source, target, limit)
    rmSync(source)
    writeFileSync(source, 'new weights!')
    expect(await mirrorFile(source, target, limit)).toBe('link')
    expect(readFileSync(target, 'utf8')).toBe('new weights!')
    expect(statSync(target).ino).toBe(statSync(source).ino)
  })

  it('copies when linking fails and the file is small, stamping the copy with the source times', async () => {
    const source = join(folder, 'weights.bin')
    writeFileSync(source, 'small weights')
    utimesSync(source, new Date('2024-01-02T03:04:05.678Z'), new Date('2024-05-06T07:08:09.123Z'))
    linking.failure = 'EXDEV'
    const target = join(folder, 'cache', 'weights.bin')
    expect(await mirrorFile(source, target, limit)).toBe('copy')
    expect(statSync(target).ino).not.toBe(statSync(source).ino)
    expect(readFileSync(target, 'utf8')).toBe('small weights')
    expect(await mirrorFile(source, target, limit)).toBe('present')
    writeFileSync(source, 'changed weights, longer')
    expect(await mirrorFile(source, target, limit)).toBe('copy')
    expect(readFileSync(target, 'utf8')).toBe('changed weights, longer')
    expect(readdirSync(join(folder, 'cache'))).toEqual(['weights.bin'])
  })

  it('refuses a file over the copy limit, naming it and the advice, and leaves nothing behind', async () => {
    const source = join(folder, 'large.bin')
    writeFileSync(source, new Uint8Array(2048))
    linking.failure = 'EPERM'
    const target = join(folder, 'cache', 'large.bin')
    const error: unknown = await mirrorFile(source, target, { ...limit, advice: 'Move the cache.' }).catch(
      (caught: unknown) => caught,
    )
    expect(isTillerError(error, 'invalid-model-folder')).toBe(true)
    expect((error as Error).message).toContain(source)
    expect((error as Error).message).toContain('EPERM')
    expect((error as Error).message).toContain('Move the cache.')
    expect(readdirSync(join(folder, 'cache'))).toEqual([])
  })
})
