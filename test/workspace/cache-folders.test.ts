import { chmodSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { homedir, tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import {
  cacheFolder,
  cacheFolderVariable,
  configuredCacheFolder,
  derivedGraphFolder,
  isProtectedPath,
  mayWriteInto,
  modelCacheFolder,
  modelCacheKey,
} from '../../src/main/core/workspace/cache-folders.ts'

const repositoryRoot = resolve(import.meta.dirname, '..', '..')
const scratch = mkdtempSync(join(tmpdir(), 'tiller-cache-folders-'))
const saved = { configured: process.env[cacheFolderVariable], xdg: process.env['XDG_CACHE_HOME'] }

function restore(name: string, value: string | undefined): void {
  if (value === undefined) delete process.env[name]
  else process.env[name] = value
}

function modelFolder(name: string): string {
  const folder = join(scratch, name)
  mkdirSync(join(folder, 'onnx'), { recursive: true })
  return folder
}

beforeAll(() => {
  delete process.env[cacheFolderVariable]
  process.env['XDG_CACHE_HOME'] = join(scratch, 'xdg')
})

afterEach(() => {
  delete process.env[cacheFolderVariable]
})

afterAll(() => {
  restore(cacheFolderVariable, saved.configured)
  restore('XDG_CACHE_HOME', saved.xdg)
  rmSync(scratch, { recursive: true, force: true })
})

describe('cache folder', () => {
  it('is TILLER_CACHE_DIR when set, else $XDG_CACHE_HOME/tiller, else ~/.cache/tiller', () => {
    expect(configuredCacheFolder()).toBeUndefined()
    expect(cacheFolder()).toBe(join(scratch, 'xdg', 'tiller'))
    process.env[cacheFolderVariable] = join(scratch, 'configured')
    expect(configuredCacheFolder()).toBe(join(scratch, 'configured'))
    expect(cacheFolder()).toBe(join(scratch, 'configured'))
    delete process.env[cacheFolderVariable]
    delete process.env['XDG_CACHE_HOME']
    try {
      expect(cacheFolder()).toBe(join(homedir(), '.cache', 'tiller'))
    } finally {
      process.env['XDG_CACHE_HOME'] = join(scratch, 'xdg')
    }
  })

  it('model keys name the folder and differ between folders', () => {
    const first = modelFolder('first model')
    const second = join(scratch, 'elsewhere', 'first model')
    mkdirSync(second, { recursive: true })
    expect(modelCacheKey(first)).toMatch(/^first_model-[0-9a-f]{16}$/)
    expect(modelCacheKey(first)).toBe(modelCacheKey(join(first, '.')))
    expect(modelCacheKey(second)).not.toBe(modelCacheKey(first))
  })
})

describe('where derived files go', () => {
  it('a writable folder keeps its caches and graphs inside it', () => {
    const folder = modelFolder('writable')
    expect(mayWriteInto(folder)).toBe(true)
    expect(modelCacheFolder(folder)).toBe(join(folder, '.tiller'))
    expect(derivedGraphFolder(folder, join(folder, 'onnx'))).toBe(join(folder, 'onnx'))
  })

  it('a folder whose permission bits forbid writing uses the cache, even for root', () => {
    const folder = modelFolder('read-only')
    chmodSync(join(folder, 'onnx'), 0o555)
    chmodSync(folder, 0o555)
    try {
      expect(mayWriteInto(folder)).toBe(false)
      const key = modelCacheKey(folder)
      expect(modelCacheFolder(folder)).toBe(join(scratch, 'xdg', 'tiller', 'models', key))
      expect(derivedGraphFolder(folder, join(folder, 'onnx'))).toBe(
        join(scratch, 'xdg', 'tiller', 'graphs', key, 'onnx'),
      )
      expect(derivedGraphFolder(folder, folder)).toBe(join(scratch, 'xdg', 'tiller', 'graphs', key))
    } finally {
      chmodSync(folder, 0o755)
      chmodSync(join(folder, 'onnx'), 0o755)
    }
  })

  it('a configured cache takes everything, writable folders included', () => {
    const folder = modelFolder('configured')
    process.env[cacheFolderVariable] = join(scratch, 'configured-cache')
    const key = modelCacheKey(folder)
    expect(modelCacheFolder(folder)).toBe(join(scratch, 'configured-cache', 'models', key))
    expect(derivedGraphFolder(folder, join(folder, 'onnx'))).toBe(
      join(scratch, 'configured-cache', 'graphs', key, 'onnx'),
    )
    expect(derivedGraphFolder(folder, join(folder, 'onnx'), true)).toBe(
      join(scratch, 'configured-cache', 'graphs', key, 'onnx'),
    )
  })

  it('forceCache sends a writable folder’s graphs to the cache', () => {
    const folder = modelFolder('forced')
    expect(derivedGraphFolder(folder, join(folder, 'onnx'), true)).toBe(
      join(scratch, 'xdg', 'tiller', 'graphs', modelCacheKey(folder), 'onnx'),
    )
  })

  it('the checkout’s resources/ are read-only always; other folders are not protected', () => {
    const organism = join(repositoryRoot, 'resources', 'models', 'organism')
    expect(isProtectedPath(organism)).toBe(true)
    expect(isProtectedPath(join(repositoryRoot, 'resources'))).toBe(true)
    expect(isProtectedPath(join(repositoryRoot, 'resources-extra'))).toBe(false)
    expect(isProtectedPath(scratch)).toBe(false)
    const datasets = join(repositoryRoot, 'resources', 'datasets')
    expect(mayWriteInto(datasets)).toBe(false)
    expect(modelCacheFolder(organism).startsWith(join(scratch, 'xdg', 'tiller', 'models'))).toBe(true)
    expect(derivedGraphFolder(organism, join(organism, 'onnx'))).toBe(
      join(scratch, 'xdg', 'tiller', 'graphs', modelCacheKey(organism), 'onnx'),
    )
  })
})
