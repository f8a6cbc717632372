import { createHash } from 'node:crypto'
import { mkdtempSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest'
import type { Edit } from '../../src/shared/edit.ts'
import { writeEditFile } from '../../src/main/core/edits/edit-file.ts'
import {
  checkFingerprint,
  fingerprintDifference,
  fingerprintModel,
} from '../../src/main/core/edits/fingerprint.ts'
import {
  compareStrengths,
  loadSteeredModel,
  readEditsFor,
} from '../../src/main/core/edits/steered-generation.ts'
import { isTillerError } from '../../src/main/core/errors.ts'
import { fitFromDemonstrations } from '../../src/main/core/fitting/fit-pipeline.ts'
import { checkpointWeightsHash } from '../../src/main/core/models/exporter/index.ts'
import { modelFiles } from '../../src/main/core/models/graph-contract.ts'
import { generate } from '../../src/main/core/runtime/generate.ts'
import { loadModel } from '../../src/main/core/runtime/model.ts'
import { cacheFolderVariable } from '../../src/main/core/workspace/cache-folders.ts'
import { ortgenaiFixture, writableCopy } from '../compiler/support.ts'
import { buildTinyModel, tinyCheckpoint } from '../helpers/tiny-models.ts'

// A spy on the file hash, to see which files fingerprints read.
const spies = vi.hoisted(() => ({ hashFile: vi.fn<(path: string) => Promise<string>>() }))
vi.mock('../../src/main/core/workspace/file-hash.ts', async (importOriginal) => {
  const original = await importOriginal<typeof import('../../src/main/core/workspace/file-hash.ts')>()
  spies.hashFile.mockImplementation(original.hashFile)
  return { ...original, hashFile: spies.hashFile }
})

const demonstrations = join(import.meta.dirname, '..', 'steering', 'fixtures', 'happy-sad.jsonl')
const scratch = mkdtempSync(join(tmpdir(), 'tiller-fingerprint-'))
const saved = { configured: process.env[cacheFolderVariable], xdg: process.env['XDG_CACHE_HOME'] }
const seed = 5
const folders = { builder: '', optimum: '', other: '', foreign: '' }

function restore(name: string, value: string | undefined): void {
  if (value === undefined) delete process.env[name]
  else process.env[name] = value
}

function sha256(path: string): string {
  return createHash('sha256').update(readFileSync(path)).digest('hex')
}

function hashedPaths(): string[] {
  return spies.hashFile.mock.calls.map(([path]) => path)
}

async function refusal(promise: Promise<unknown>): Promise<Error> {
  const error: unknown = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  )
  if (!isTillerError(error, 'model-mismatch'))
    throw new Error(`expected a model-mismatch, got ${String(error)}`)
  return error
}

beforeAll(async () => {
  delete process.env[cacheFolderVariable]
  process.env['XDG_CACHE_HOME'] = join(scratch, 'cache')
  folders.builder = await buildTinyModel({ family: 'builder', seed })
  folders.optimum = await buildTinyModel({ family: 'optimum', seed })
  folders.other = await buildTinyModel({ family: 'builder', seed: seed + 1 })
  folders.foreign = writableCopy(ortgenaiFixture)
})

beforeEach(() => {
  spies.hashFile.mockClear()
})

afterAll(() => {
  restore(cacheFolderVariable, saved.configured)
  restore('XDG_CACHE_HOME', saved.xdg)
  for (const folder of Object.values(folders)) if (folder !== '') rmSync(dirname(folder), { recursive: true })
  rmSync(scratch, { recursive: true, force: true })
})

describe('model fingerprints of Tiller exports', () => {
  let edit: Edit
  const editPath = join(scratch, 'happy.safetensors')

  beforeAll(async () => {
    const fitted = await fitFromDemonstrations({
      model: { folder: folders.builder, provider: 'cpu' },
      data: demonstrations,
      method: 'mean-diff',
      options: { layers: [1] },
    })
    edit = fitted.edit
    await writeEditFile(editPath, edit, fitted.extras)
  })

  it('builder and optimum exports of one checkpoint share a fingerprint, without reading their weights', async () => {
    const builder = await fingerprintModel(folders.builder)
    const optimum = await fingerprintModel(folders.optimum)
    expect(optimum).toEqual(builder)
    expect(builder.weightsHash).toBe(checkpointWeightsHash(tinyCheckpoint({ seed }), 'float32'))
    expect(edit.model).toEqual(builder)
    const dataFiles = [folders.builder, folders.optimum].map((folder) =>
      join(folder, `${modelFiles.graph}_data`),
    )
    expect(sha256(dataFiles[0] as string)).not.toBe(sha256(dataFiles[1] as string))
    expect(hashedPaths().filter((path) => !path.endsWith(modelFiles.tokenizer))).toEqual([])
  })

  it('an edit fitted on the builder export steers the optimum export; strength 0 is its base exactly', async () => {
    const edits = await readEditsFor(folders.optimum, [editPath])
    const steered = await loadSteeredModel(folders.optimum, edits, { provider: 'cpu' })
    const base = await loadModel(folders.optimum, { provider: 'cpu' })
    try {
      const prompt = [1, ...Buffer.from('Once upon a time, Lily was in the park.')]
      const options = { maxTokens: 16, temperature: 0, eosTokenIds: [-1] }
      const rows = await compareStrengths(steered, prompt, [0, 8], options)
      const [plain] = await generate(base, { rows: [prompt], options })
      expect(rows[0]?.tokens).toEqual(plain?.generated)
      expect(rows[1]?.tokens).not.toEqual(plain?.generated)
    } finally {
      await steered.model.dispose()
      await base.dispose()
    }
  })

  it('another checkpoint refuses the edit, naming weightsHash', async () => {
    const error = await refusal(readEditsFor(folders.other, [editPath]))
    expect(error.message).toContain('weightsHash differs')
    expect((error as { subject?: string }).subject).toBe('weightsHash')
  })

  it('edits fitted on a weights-file hash (before logical hashes) still load on that model', async () => {
    const builderData = sha256(join(folders.builder, `${modelFiles.graph}_data`))
    const otherData = sha256(join(folders.other, `${modelFiles.graph}_data`))
    const legacy = join(scratch, 'legacy.safetensors')
    await writeEditFile(legacy, { ...edit, model: { ...edit.model, weightsHash: builderData } })
    expect((await readEditsFor(folders.builder, [legacy]))[0]?.id).toBe(edit.id)
    // The optimum export holds the same logical weights, so the builder's file hash vouches for it too.
    expect((await readEditsFor(folders.optimum, [legacy]))[0]?.id).toBe(edit.id)
    const foreign = join(scratch, 'legacy-other.safetensors')
    await writeEditFile(foreign, { ...edit, model: { ...edit.model, weightsHash: otherData } })
    const error = await refusal(readEditsFor(folders.builder, [foreign]))
    expect(error.message).toContain('weightsHash differs')
    // The studio's edit list marks models the same way.
    expect(fingerprintDifference(edit.model, { ...edit.model, weightsHash: builderData })).toBeUndefined()
    expect(fingerprintDifference(edit.model, { ...edit.model, weightsHash: otherData })).toBe('weightsHash')
    expect(() => checkFingerprint(edit.model, { ...edit.model, weightsHash: 'c'.repeat(64) }, 'x')).toThrow(
      /weightsHash differs/,
    )
  })
})

describe('model fingerprints of foreign folders', () => {
  it('hash the weights file once, then remember it by path, size and modification time', async () => {
    const dataFile = join(folders.foreign, 'model.onnx.data')
    const first = await fingerprintModel(folders.foreign)
    expect(first.weightsHash).toBe(sha256(dataFile))
    expect(hashedPaths().filter((path) => path === dataFile)).toHaveLength(1)
    const cacheFile = join(folders.foreign, '.tiller', 'weights-hash.json')
    const { size, mtimeMs } = statSync(dataFile)
    expect(JSON.parse(readFileSync(cacheFile, 'utf8'))).toEqual({
      version: 1,
      files: { [dataFile]: { size, mtimeMs, sha256: first.weightsHash } },
    })

    expect(await fingerprintModel(folders.foreign)).toEqual(first)
    expect(hashedPaths().filter((path) => path === dataFile)).toHaveLength(1)

    // New bytes under a new modification time are hashed again.
    const bytes = readFileSync(dataFile)
    bytes[0] = (bytes[0] ?? 0) ^ 0xff
    writeFileSync(dataFile, bytes)
    utimesSync(dataFile, new Date(), new Date(Date.now() + 10_000))
    const changed = await fingerprintModel(folders.foreign)
    expect(changed.weightsHash).toBe(sha256(dataFile))
    expect(changed.weightsHash).not.toBe(first.weightsHash)
    expect(hashedPaths().filter((path) => path === dataFile)).toHaveLength(2)
  })
})
