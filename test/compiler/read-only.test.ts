import { createHash } from 'node:crypto'
import {
  chmodSync,
  cpSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
} from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, isAbsolute, join, relative } from 'node:path'
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest'
import type { Edit } from '../../src/shared/edit.ts'
import { compileEdits, type CompiledGraph } from '../../src/main/core/edits/compiler/compile.ts'
import {
  compareStrengths,
  loadSteeredModel,
  steeringInputs,
} from '../../src/main/core/edits/steered-generation.ts'
import { fitFromDemonstrations } from '../../src/main/core/fitting/fit-pipeline.ts'
import { locateHookSites } from '../../src/main/core/models/locator/index.ts'
import { forwardBatch } from '../../src/main/core/runtime/forward.ts'
import { generate } from '../../src/main/core/runtime/generate.ts'
import { logitsAsFloat32 } from '../../src/main/core/runtime/logits.ts'
import { loadModel } from '../../src/main/core/runtime/model.ts'
import { cacheFolderVariable, modelCacheKey } from '../../src/main/core/workspace/cache-folders.ts'
import { buildTinyModel } from '../helpers/tiny-models.ts'
import { editOf, ortgenaiFixture, randomVector } from './support.ts'

// Hard links fail across file systems; setting `linking.failure` makes them fail here, on one disk.
const linking = vi.hoisted(() => ({ failure: undefined as string | undefined }))
vi.mock('node:fs', async (importOriginal) => {
  const original = await importOriginal<typeof import('node:fs')>()
  return {
    ...original,
    linkSync: (existing: string, created: string) => {
      if (linking.failure !== undefined) {
        throw Object.assign(new Error(`${linking.failure}: link refused`), { code: linking.failure })
      }
      original.linkSync(existing, created)
    },
  }
})

/** What a folder holds: every file (hidden ones too) with its size, modification time, mode and content hash. */
type Snapshot = Record<string, { size: number; mtimeMs: number; mode: number; sha256: string }>

const demonstrations = join(import.meta.dirname, '..', 'steering', 'fixtures', 'happy-sad.jsonl')
const scratch = mkdtempSync(join(tmpdir(), 'tiller-read-only-'))
const cache = join(scratch, 'xdg', 'tiller')
const saved = { configured: process.env[cacheFolderVariable], xdg: process.env['XDG_CACHE_HOME'] }
const built: string[] = []

function restore(name: string, value: string | undefined): void {
  if (value === undefined) delete process.env[name]
  else process.env[name] = value
}

function setModes(folder: string, file: number, directory: number): void {
  for (const entry of readdirSync(folder, { withFileTypes: true })) {
    const path = join(folder, entry.name)
    if (entry.isDirectory()) setModes(path, file, directory)
    else chmodSync(path, file)
  }
  chmodSync(folder, directory)
}

/** A copy of `folder` with every write bit cleared (`chmod -R a-w`). */
function readOnlyCopy(folder: string, name: string): string {
  const target = join(scratch, name)
  cpSync(folder, target, { recursive: true })
  setModes(target, 0o444, 0o555)
  return target
}

function snapshot(folder: string, prefix = ''): Snapshot {
  const result: Snapshot = {}
  for (const entry of readdirSync(join(folder, prefix), { withFileTypes: true })) {
    const path = join(prefix, entry.name)
    if (entry.isDirectory()) {
      Object.assign(result, snapshot(folder, path))
      continue
    }
    const stats = statSync(join(folder, path))
    const sha256 = createHash('sha256')
      .update(readFileSync(join(folder, path)))
      .digest('hex')
    result[path] = { size: stats.size, mtimeMs: stats.mtimeMs, mode: stats.mode, sha256 }
  }
  return result
}

async function tinyModel(family: 'builder' | 'optimum'): Promise<string> {
  const folder = await buildTinyModel({ family, seed: 9 })
  built.push(dirname(folder))
  return folder
}

function addEdit(width: number, seed: number): Edit {
  return editOf(`add-${seed}`, [
    {
      layer: 0,
      site: 'resid_post',
      positions: { kind: 'all' },
      op: { kind: 'add', vector: randomVector(width, seed).map((value) => value * 4) },
    },
  ])
}

/** Logits `[rows, seq, vocab]` of `rows` on the folder's base graph and on `compiled` at each row's strength. */
async function logitsOf(
  folder: string,
  compiled: CompiledGraph,
  rows: number[][],
  strengths: number[],
): Promise<{ base: Float32Array; steered: Float32Array }> {
  const base = await loadModel(folder, { provider: 'cpu' })
  const steered = await loadModel(folder, { provider: 'cpu', graphFile: compiled.graphFile })
  try {
    const plain = await forwardBatch(base, rows, { fetch: ['logits'] })
    const edited = await forwardBatch(steered, rows, {
      fetch: ['logits'],
      extraInputs: steeringInputs(compiled, strengths),
    })
    return {
      base: logitsAsFloat32(plain.outputs.logits as never),
      steered: logitsAsFloat32(edited.outputs.logits as never),
    }
  } finally {
    await base.dispose()
    await steered.dispose()
  }
}

/** Two rows holding `row`, for a strength-0 row and a steered row of one batch. */
function twice(row: number[]): number[][] {
  return [row, [...row]]
}

/** Row 0 (strength 0) of two equal rows has exactly the base logits; row 1 (a non-zero strength) does not. */
function expectRowsAtZeroOnly(logits: { base: Float32Array; steered: Float32Array }): void {
  const half = logits.base.length / 2
  expect(logits.steered.subarray(0, half)).toEqual(logits.base.subarray(0, half))
  expect(logits.steered.subarray(half)).not.toEqual(logits.base.subarray(half))
}

/** The single weights file beside a compiled graph in the cache. */
function cachedWeights(compiled: CompiledGraph): string {
  const names = readdirSync(dirname(compiled.graphPath)).filter((name) => /_data$|\.data$/.test(name))
  expect(names).toHaveLength(1)
  return join(dirname(compiled.graphPath), names[0] as string)
}

function expectInCache(compiled: CompiledGraph, folder: string): void {
  expect(isAbsolute(compiled.graphFile)).toBe(true)
  expect(compiled.graphFile).toBe(compiled.graphPath)
  expect(relative(join(cache, 'graphs', modelCacheKey(folder)), compiled.graphPath).startsWith('..')).toBe(
    false,
  )
}

beforeAll(() => {
  delete process.env[cacheFolderVariable]
  process.env['XDG_CACHE_HOME'] = join(scratch, 'xdg')
})

afterEach(() => {
  linking.failure = undefined
  delete process.env[cacheFolderVariable]
})

afterAll(() => {
  restore(cacheFolderVariable, saved.configured)
  restore('XDG_CACHE_HOME', saved.xdg)
  setModes(scratch, 0o644, 0o755)
  rmSync(scratch, { recursive: true, force: true })
  for (const folder of built) rmSync(folder, { recursive: true, force: true })
})

describe('read-only model folders', () => {
  it('a read-only tiny model fits, compiles and compares (strength 0 = base) and is left unchanged', async () => {
    const folder = readOnlyCopy(await tinyModel('builder'), 'tiny-builder')
    const before = snapshot(folder)
    const { edit } = await fitFromDemonstrations({
      model: { folder, provider: 'cpu' },
      data: demonstrations,
      method: 'mean-diff',
      options: { layers: [1] },
    })
    const steered = await loadSteeredModel(folder, [edit], { provider: 'cpu' })
    const base = await loadModel(folder, { provider: 'cpu' })
    try {
      expectInCache(steered.compiled, folder)
      // The weights beside the compiled graph are the original file, hard-linked.
      const original = join(folder, 'onnx', 'model.onnx_data')
      expect(statSync(cachedWeights(steered.compiled)).ino).toBe(statSync(original).ino)
      const prompt = [1, ...Buffer.from('Tom was at home.')]
      const options = { maxTokens: 12, temperature: 0, eosTokenIds: [-1] }
      const [plain] = await generate(base, { rows: [prompt], options })
      const rows = await compareStrengths(steered, prompt, [0, 8], options)
      expect(rows[0]?.tokens).toEqual(plain?.generated)
    } finally {
      await steered.model.dispose()
      await base.dispose()
    }
    const logits = await logitsOf(folder, steered.compiled, twice([1, 72, 105]), [0, 8])
    expectRowsAtZeroOnly(logits)
    // Hook maps and activations were cached for the folder, in the cache.
    const caches = readdirSync(join(cache, 'models', modelCacheKey(folder)))
    expect(caches.some((name) => /^hooks-[0-9a-f]{16}\.json$/.test(name))).toBe(true)
    expect(caches).toContain('activations')
    expect(snapshot(folder)).toEqual(before)
  })

  it('the ortgenai fixture is read-only; a read-only copy compiles an edit and runs it', async () => {
    if (!existsSync(ortgenaiFixture)) throw new Error(`Test fixture ${ortgenaiFixture} is missing.`)
    expect(statSync(ortgenaiFixture).mode & 0o222).toBe(0)
    const folder = readOnlyCopy(ortgenaiFixture, 'ortgenai')
    const before = snapshot(folder)
    const map = await locateHookSites(folder)
    const compiled = await compileEdits(folder, [addEdit(map.widths.resid_post, 21)])
    expectInCache(compiled, folder)
    expect(statSync(cachedWeights(compiled)).ino).toBe(statSync(join(folder, 'model.onnx.data')).ino)
    const logits = await logitsOf(folder, compiled, twice([1, 450, 4996]), [0, 1])
    expectRowsAtZeroOnly(logits)
    expect(snapshot(folder)).toEqual(before)
  })

  it('when hard links fail (another file system), the weights are copied once and reused', async () => {
    const folder = readOnlyCopy(await tinyModel('optimum'), 'tiny-optimum')
    const before = snapshot(folder)
    linking.failure = 'EXDEV'
    const map = await locateHookSites(folder)
    const first = await compileEdits(folder, [addEdit(map.widths.resid_post, 31)])
    expectInCache(first, folder)
    const original = join(folder, 'onnx', 'model.onnx_data')
    const copy = cachedWeights(first)
    expect(statSync(copy).ino).not.toBe(statSync(original).ino)
    expect(readFileSync(copy).equals(readFileSync(original))).toBe(true)
    const second = await compileEdits(folder, [addEdit(map.widths.resid_post, 32)])
    expect(second.graphPath).not.toBe(first.graphPath)
    expect(cachedWeights(second)).toBe(copy)
    expect(statSync(copy).ino).toBe(statSync(cachedWeights(first)).ino)
    const logits = await logitsOf(folder, second, [[1, 80, 81, 82]], [0])
    expect(logits.steered).toEqual(logits.base)
    expect(snapshot(folder)).toEqual(before)
  })

  it('a configured cache (TILLER_CACHE_DIR) takes the graphs and caches of a writable folder too', async () => {
    const folder = await tinyModel('builder')
    const configured = join(scratch, 'configured')
    process.env[cacheFolderVariable] = configured
    const map = await locateHookSites(folder)
    const compiled = await compileEdits(folder, [addEdit(map.widths.resid_post, 41)])
    expect(compiled.graphPath.startsWith(join(configured, 'graphs', modelCacheKey(folder)))).toBe(true)
    expect(
      readdirSync(join(configured, 'models', modelCacheKey(folder))).some((name) =>
        name.startsWith('hooks-'),
      ),
    ).toBe(true)
    expect(existsSync(join(folder, '.tiller'))).toBe(false)
    expect(readdirSync(join(folder, 'onnx')).sort()).toEqual(['model.onnx', 'model.onnx_data'])
    delete process.env[cacheFolderVariable]
    const beside = await compileEdits(folder, [addEdit(map.widths.resid_post, 41)])
    expect(beside.graphFile).toBe(`onnx/${compiled.graphFile.split('/').pop() ?? ''}`)
  })
})
