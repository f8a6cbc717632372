import { createHash } from 'node:crypto'
import { mkdtempSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'

// Spies on the hash functions, shared by every fresh import of the cache module below.
const spies = vi.hoisted(() => ({
  hashFile: vi.fn<(path: string) => Promise<string>>(),
  hashFileSync: vi.fn<(path: string) => string>(),
}))
vi.mock('../../src/main/core/workspace/file-hash.ts', async (importOriginal) => {
  const original = await importOriginal<typeof import('../../src/main/core/workspace/file-hash.ts')>()
  spies.hashFile.mockImplementation(original.hashFile)
  spies.hashFileSync.mockImplementation(original.hashFileSync)
  return { hashFile: spies.hashFile, hashFileSync: spies.hashFileSync }
})

type CacheModule = typeof import('../../src/main/core/workspace/file-hash-cache.ts')

/** The cache module with an empty memory, as a new process would see it. */
async function freshModule(): Promise<CacheModule> {
  vi.resetModules()
  return import('../../src/main/core/workspace/file-hash-cache.ts')
}

function sha256(path: string): string {
  return createHash('sha256').update(readFileSync(path)).digest('hex')
}

let folder: string
let file: string

beforeEach(() => {
  folder = mkdtempSync(join(tmpdir(), 'tiller-hash-cache-'))
  file = join(folder, 'model.onnx_data')
  writeFileSync(file, 'first weights')
  spies.hashFile.mockClear()
  spies.hashFileSync.mockClear()
})

afterEach(() => {
  rmSync(folder, { recursive: true, force: true })
})

describe('cachedFileHash', () => {
  it('hashes once, then answers from memory and from the cache file in a fresh process', async () => {
    const cacheFile = join(folder, '.tiller', 'weights-hash.json')
    const first = await freshModule()
    expect(await first.cachedFileHash(file, cacheFile)).toBe(sha256(file))
    expect(spies.hashFile).toHaveBeenCalledTimes(1)
    expect(await first.cachedFileHash(file, cacheFile)).toBe(sha256(file))
    expect(first.cachedFileHashSync(file, cacheFile)).toBe(sha256(file))
    expect(spies.hashFile).toHaveBeenCalledTimes(1)
    expect(spies.hashFileSync).not.toHaveBeenCalled()

    const { size, mtimeMs } = statSync(file)
    const stored = JSON.parse(readFileSync(cacheFile, 'utf8')) as unknown
    expect(stored).toEqual({ version: 1, files: { [file]: { size, mtimeMs, sha256: sha256(file) } } })

    const second = await freshModule()
    expect(await second.cachedFileHash(file, cacheFile)).toBe(sha256(file))
    expect(spies.hashFile).toHaveBeenCalledTimes(1)
  })

  it('is keyed by size and modification time: same size and time answer from the cache, a new time rehashes', async () => {
    // Whole-second times, so setting them again reproduces them exactly.
    const atime = new Date('2025-03-04T05:06:07Z')
    const mtime = new Date('2025-03-04T05:06:08Z')
    utimesSync(file, atime, mtime)
    const cache = await freshModule()
    const original = sha256(file)
    await cache.cachedFileHash(file)
    writeFileSync(file, 'other weights')
    utimesSync(file, atime, mtime)
    // Same size, same modification time: the remembered hash answers without reading the file.
    expect(await cache.cachedFileHash(file)).toBe(original)
    expect(spies.hashFile).toHaveBeenCalledTimes(1)
    utimesSync(file, atime, new Date(mtime.getTime() + 5000))
    expect(await cache.cachedFileHash(file)).toBe(sha256(file))
    expect(sha256(file)).not.toBe(original)
    expect(spies.hashFile).toHaveBeenCalledTimes(2)
  })

  it('the synchronous variant hashes a new file itself and shares what it learns', async () => {
    const cache = await freshModule()
    expect(cache.cachedFileHashSync(file)).toBe(sha256(file))
    expect(spies.hashFileSync).toHaveBeenCalledTimes(1)
    expect(await cache.cachedFileHash(file)).toBe(sha256(file))
    expect(spies.hashFile).not.toHaveBeenCalled()
  })

  it('replaces a corrupt cache file', async () => {
    const cacheFile = join(folder, 'weights-hash.json')
    writeFileSync(cacheFile, 'not json')
    const cache = await freshModule()
    expect(await cache.cachedFileHash(file, cacheFile)).toBe(sha256(file))
    const stored = JSON.parse(readFileSync(cacheFile, 'utf8')) as {
      files: Record<string, { sha256: string }>
    }
    expect(stored.files[file]?.sha256).toBe(sha256(file))
  })

  it('keeps working in memory when the cache file cannot be written', async () => {
    // A cache path under a regular file cannot be created, whatever the user's rights.
    const cacheFile = join(file, 'weights-hash.json')
    const cache = await freshModule()
    expect(await cache.cachedFileHash(file, cacheFile)).toBe(sha256(file))
    expect(await cache.cachedFileHash(file, cacheFile)).toBe(sha256(file))
    expect(spies.hashFile).toHaveBeenCalledTimes(1)
  })
})
