import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

import { GGMLQuantizationType } from '@huggingface/gguf'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'

import { isTillerError, type TillerError } from '../../src/main/core/errors.ts'
import { writeGgufFile } from '../../src/main/core/gguf/writer.ts'
import { importGguf } from '../../src/main/core/models/importers/gguf/import-gguf.ts'
import { maximumContextLength } from '../../src/main/core/models/importers/gguf/llama-config.ts'
import { checkpointToGguf, randomCheckpoint, tinyConfig } from './helpers/gguf-model.ts'
import type { GgufModelOptions } from './helpers/gguf-model.ts'

/**
 * Crafted GGUF counts and sizes are checked against the file before anything loops or allocates over them. Before
 * these checks, `llama.block_count = 1e9` looped a billion times building the expected tensor list, and a huge
 * `llama.context_length` reached the exporter's RoPE tables (5 GB at 2e8, a raw RangeError at 2^53 − 1).
 */

let folder = ''
const checkpoint = randomCheckpoint(tinyConfig, 7)

beforeAll(async () => {
  folder = await mkdtemp(join(tmpdir(), 'tiller-gguf-bounds-'))
})
afterAll(async () => {
  if (folder !== '') await rm(folder, { recursive: true, force: true })
})

async function writeModel(name: string, options: GgufModelOptions = {}): Promise<string> {
  const path = join(folder, `${name}.gguf`)
  await writeGgufFile(path, checkpointToGguf(checkpoint, options))
  return path
}

async function importError(path: string): Promise<TillerError> {
  const error: unknown = await importGguf(path).then(
    () => undefined,
    (caught: unknown) => caught,
  )
  if (!isTillerError(error)) throw new Error(`expected a TillerError for ${path}, got ${String(error)}`)
  return error
}

describe('GGUF import checks counts and sizes against the file first', () => {
  it('a block count the tensors cannot back', async () => {
    const path = await writeModel('billion-layers', {
      metadata: { 'llama.block_count': { type: 'uint32', value: 1e9 } },
    })
    const error = await importError(path)
    expect(error.code).toBe('file-corrupt')
    expect(error.subject).toBe(`${path}: llama.block_count`)
    expect(error.message).toContain('llama.block_count = 1000000000')
    expect(error.message).toContain(`holds ${2 * 9 + 3} tensors`)
    expect(error.message.split('\n')).toHaveLength(1)
  })

  it('no layers at all', async () => {
    const error = await importError(
      await writeModel('no-layers', { metadata: { 'llama.block_count': { type: 'uint32', value: 0 } } }),
    )
    expect(error.code).toBe('file-corrupt')
    expect(error.message).toContain('llama.block_count = 0')
  })

  it.each([
    ['2e8', { type: 'uint32', value: 2e8 } as const, '200000000'],
    ['2^53 − 1', { type: 'uint64', value: 2n ** 53n - 1n } as const, '9007199254740991'],
    ['0', { type: 'uint32', value: 0 } as const, '0'],
  ])('a context length of %s', async (name, value, printed) => {
    const path = await writeModel(`context-${name}`, { metadata: { 'llama.context_length': value } })
    const error = await importError(path)
    expect(error.code).toBe('unsupported-architecture')
    expect(error.subject).toBe(`${path}: llama.context_length`)
    expect(error.message).toContain(`llama.context_length = ${printed} is outside 1..${maximumContextLength}`)
    expect(error.message.split('\n')).toHaveLength(1)
  })

  it('a context length above 2^53 is refused as an impossible integer', async () => {
    const error = await importError(
      await writeModel('context-2-64', {
        metadata: { 'llama.context_length': { type: 'uint64', value: 2n ** 64n - 1n } },
      }),
    )
    expect(error.code).toBe('file-corrupt')
    expect(error.message).toContain('"llama.context_length"')
  })

  it('tensor and metadata counts the file is too small to hold', async () => {
    const original = await readFile(await writeModel('counts'))
    const cases: [string, number, bigint, string][] = [
      ['tensor_count', 8, 2n ** 40n, 'tensor_count is 1099511627776'],
      ['kv_count', 16, 10n ** 9n, 'kv_count is 1000000000'],
    ]
    for (const [field, offset, count, expected] of cases) {
      const path = join(folder, `${field}.gguf`)
      const patched = Buffer.from(original)
      patched.writeBigUInt64LE(count, offset)
      await writeFile(path, patched)
      const error = await importError(path)
      expect({ field, code: error.code }).toEqual({ field, code: 'file-corrupt' })
      expect(error.message).toContain(expected)
      expect(error.message).toContain(path)
    }
  })

  it('K-quant tensor data that runs past the end of the file, before any tensor is read', async () => {
    // Hidden 256 so that rows are whole Q4_K super-blocks; the file loses the last 100 bytes of its last tensor.
    const config = { ...tinyConfig, hiddenSize: 256, intermediateSize: 256, headDim: 64 }
    const content = checkpointToGguf(randomCheckpoint(config, 8), { matrixType: GGMLQuantizationType.Q4_K })
    const path = join(folder, 'q4k-truncated.gguf')
    await writeGgufFile(path, content)
    const whole = await readFile(path)
    await writeFile(path, whole.subarray(0, whole.length - 100))
    const last = content.tensors[content.tensors.length - 1]
    expect(last?.type).toBe(GGMLQuantizationType.Q4_K)
    const error = await importError(path)
    expect(error.code).toBe('file-corrupt')
    expect(error.message).toContain(`is truncated: tensor "${last?.name}" needs bytes`)
    expect(error.message).toContain(`the file has ${whole.length - 100}`)
  })

  it('the unpatched model imports with the largest context allowed, so the refusals are about the values', async () => {
    const path = await writeModel('largest-context', {
      metadata: { 'llama.context_length': { type: 'uint32', value: maximumContextLength } },
    })
    const imported = await importGguf(path)
    expect(imported.checkpoint.config.maxPositionEmbeddings).toBe(maximumContextLength)
    expect(imported.checkpoint.config.numLayers).toBe(tinyConfig.numLayers)
  })
})
