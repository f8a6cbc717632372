import { createHash } from 'node:crypto'
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

import { GGMLQuantizationType, GGUFValueType, gguf } from '@huggingface/gguf'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'

import { isTillerError } from '../../src/main/core/errors.ts'
import { serializeGguf, writeGgufFile } from '../../src/main/core/gguf/writer.ts'
import type {
  GgufMetadataValue,
  GgufScalarTypeName,
  GgufTensorInput,
} from '../../src/main/core/gguf/writer.ts'
import { requireFixture, storiesGgufPath } from './helpers/fixtures.ts'

const typeNames: Record<number, GgufScalarTypeName> = {
  [GGUFValueType.UINT8]: 'uint8',
  [GGUFValueType.INT8]: 'int8',
  [GGUFValueType.UINT16]: 'uint16',
  [GGUFValueType.INT16]: 'int16',
  [GGUFValueType.UINT32]: 'uint32',
  [GGUFValueType.INT32]: 'int32',
  [GGUFValueType.FLOAT32]: 'float32',
  [GGUFValueType.FLOAT64]: 'float64',
  [GGUFValueType.UINT64]: 'uint64',
  [GGUFValueType.INT64]: 'int64',
  [GGUFValueType.BOOL]: 'bool',
  [GGUFValueType.STRING]: 'string',
}

function concatenate(chunks: Uint8Array[]): Buffer {
  return Buffer.concat(chunks.map((chunk) => Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength)))
}

describe('GGUF v3 writer', () => {
  let folder = ''
  beforeAll(async () => {
    folder = await mkdtemp(join(tmpdir(), 'tiller-gguf-writer-'))
  })
  afterAll(async () => {
    if (folder !== '') await rm(folder, { recursive: true, force: true })
  })

  it('writes every metadata value type, which @huggingface/gguf reads back with the same types', async () => {
    const metadata: [string, GgufMetadataValue][] = [
      ['general.architecture', { type: 'string', value: 'controlvector' }],
      ['test.uint8', { type: 'uint8', value: 255 }],
      ['test.int8', { type: 'int8', value: -128 }],
      ['test.uint16', { type: 'uint16', value: 65535 }],
      ['test.int16', { type: 'int16', value: -32768 }],
      ['test.uint32', { type: 'uint32', value: 4294967295 }],
      ['test.int32', { type: 'int32', value: -2147483648 }],
      ['test.float32', { type: 'float32', value: 0.25 }],
      ['test.float64', { type: 'float64', value: Math.PI }],
      ['test.uint64', { type: 'uint64', value: 2n ** 64n - 1n }],
      ['test.int64', { type: 'int64', value: -(2n ** 63n) }],
      ['test.bool', { type: 'bool', value: true }],
      ['test.string', { type: 'string', value: 'héllo ▁ 你好' }],
      ['test.array.strings', { type: 'array', elementType: 'string', value: ['a', '', '▁b'] }],
      ['test.array.int32', { type: 'array', elementType: 'int32', value: [-1, 0, 7] }],
      ['test.array.float32', { type: 'array', elementType: 'float32', value: [1.5, -2] }],
      ['test.array.bool', { type: 'array', elementType: 'bool', value: [true, false] }],
      ['test.array.uint64', { type: 'array', elementType: 'uint64', value: [1n, 2n] }],
      ['test.array.empty', { type: 'array', elementType: 'uint8', value: [] }],
    ]
    const path = join(folder, 'all-types.gguf')
    await writeGgufFile(path, { metadata, tensors: [] })
    const parsed = await gguf(path, { allowLocalFile: true, typedMetadata: true })
    expect(parsed.metadata.version).toBe(3)
    expect(parsed.metadata.kv_count).toBe(BigInt(metadata.length))
    const typed = parsed.typedMetadata as Record<string, { value: unknown; type: number; subType?: number }>
    for (const [key, entry] of metadata) {
      const read = typed[key]
      expect({ key, value: read?.value }).toEqual({ key, value: entry.value })
      if (entry.type === 'array') {
        expect({ key, type: read?.type, element: typeNames[read?.subType ?? -1] }).toEqual({
          key,
          type: GGUFValueType.ARRAY,
          element: entry.elementType,
        })
      } else {
        expect({ key, type: typeNames[read?.type ?? -1] }).toEqual({ key, type: entry.type })
      }
    }
  })

  it('writes F32 and F16 tensors (ne0-first dims) at aligned offsets, with general.alignment when not 32', async () => {
    const tensors: GgufTensorInput[] = [
      {
        name: 'direction.1',
        type: GGMLQuantizationType.F32,
        shape: [3],
        data: Float32Array.from([1, -2, 3.5]),
      },
      {
        name: 'matrix',
        type: GGMLQuantizationType.F16,
        shape: [2, 3],
        data: Float32Array.from([1, 2, 3, 4, 5, 0.5]),
      },
    ]
    const path = join(folder, 'tensors.gguf')
    await writeGgufFile(path, {
      metadata: [['general.architecture', { type: 'string', value: 'controlvector' }]],
      tensors,
      alignment: 64,
    })
    const parsed = await gguf(path, { allowLocalFile: true, typedMetadata: true })
    expect(parsed.typedMetadata['general.alignment']).toEqual({ value: 64, type: GGUFValueType.UINT32 })
    expect(Number(parsed.tensorDataOffset) % 64).toBe(0)
    expect(
      parsed.tensorInfos.map(({ name, shape, dtype, offset }) => ({ name, shape, dtype, offset })),
    ).toEqual([
      { name: 'direction.1', shape: [3n], dtype: GGMLQuantizationType.F32, offset: 0n },
      { name: 'matrix', shape: [3n, 2n], dtype: GGMLQuantizationType.F16, offset: 64n },
    ])
    const bytes = await readFile(path)
    const start = Number(parsed.tensorDataOffset)
    const vector = new Float32Array(
      bytes.buffer.slice(bytes.byteOffset + start, bytes.byteOffset + start + 12),
    )
    expect(Array.from(vector)).toEqual([1, -2, 3.5])
    const halves = new Uint16Array(
      bytes.buffer.slice(bytes.byteOffset + start + 64, bytes.byteOffset + start + 76),
    )
    expect(Array.from(halves)).toEqual([0x3c00, 0x4000, 0x4200, 0x4400, 0x4500, 0x3800])
    expect(bytes.length).toBe(start + 64 + 64)
  })

  it('reproduces the stories260K GGUF byte for byte from its parsed metadata and tensors', async () => {
    const original = await readFile(requireFixture(storiesGgufPath))
    const parsed = await gguf(storiesGgufPath, { allowLocalFile: true, typedMetadata: true })
    const typed = parsed.typedMetadata as Record<string, { value: unknown; type: number; subType?: number }>
    const metadata: [string, GgufMetadataValue][] = Object.entries(typed)
      .filter(([key]) => !['version', 'tensor_count', 'kv_count'].includes(key))
      .map(([key, entry]) => {
        const value =
          entry.type === GGUFValueType.ARRAY
            ? { type: 'array', elementType: typeNames[entry.subType ?? -1], value: entry.value }
            : { type: typeNames[entry.type], value: entry.value }
        return [key, value as GgufMetadataValue]
      })
    const dataStart = Number(parsed.tensorDataOffset)
    const tensors = parsed.tensorInfos.map((info): GgufTensorInput => {
      const count = info.shape.reduce((product, size) => product * Number(size), 1)
      const start = dataStart + Number(info.offset)
      return {
        name: info.name,
        type: info.dtype,
        shape: info.shape.map(Number).reverse(),
        data: new Float32Array(
          original.buffer.slice(original.byteOffset + start, original.byteOffset + start + count * 4),
        ),
      }
    })
    const written = concatenate(serializeGguf({ metadata, tensors }))
    expect(written.length).toBe(original.length)
    const digest = (bytes: Buffer): string => createHash('sha256').update(bytes).digest('hex')
    expect(digest(written)).toBe(digest(original))
  })

  it('rejects values that do not fit their type, bad names and mismatched data, writing nothing', async () => {
    const attempts: {
      metadata?: [string, GgufMetadataValue][]
      tensors?: GgufTensorInput[]
      subject: string
    }[] = [
      { metadata: [['a.uint8', { type: 'uint8', value: 256 }]], subject: 'a.uint8' },
      { metadata: [['a.int32', { type: 'int32', value: 1.5 }]], subject: 'a.int32' },
      {
        metadata: [['a.array', { type: 'array', elementType: 'uint16', value: [1, -1] }]],
        subject: 'a.array',
      },
      { metadata: [['', { type: 'bool', value: true }]], subject: '' },
      {
        metadata: [
          ['twice', { type: 'bool', value: true }],
          ['twice', { type: 'bool', value: false }],
        ],
        subject: 'twice',
      },
      {
        tensors: [{ name: 'short', type: GGMLQuantizationType.F32, shape: [4], data: new Float32Array(3) }],
        subject: 'short',
      },
      {
        tensors: [
          { name: 'iq2', type: GGMLQuantizationType.IQ2_XXS, shape: [256], data: new Uint8Array(66) },
        ],
        subject: 'iq2',
      },
      {
        tensors: [{ name: 'q4k', type: GGMLQuantizationType.Q4_K, shape: [128], data: new Uint8Array(72) }],
        subject: 'q4k',
      },
      {
        tensors: [
          { name: 'x'.repeat(64), type: GGMLQuantizationType.F32, shape: [1], data: new Float32Array(1) },
        ],
        subject: 'x'.repeat(64),
      },
    ]
    for (const attempt of attempts) {
      const path = join(folder, 'rejected.gguf')
      const error: unknown = await writeGgufFile(path, {
        metadata: attempt.metadata ?? [],
        tensors: attempt.tensors ?? [],
      }).catch((caught: unknown) => caught)
      expect(isTillerError(error, 'invalid-argument') ? error.subject : error).toBe(attempt.subject)
    }
    const leftovers = (await readdir(folder)).filter((name) => name.includes('rejected'))
    expect(leftovers).toEqual([])
  })
})
