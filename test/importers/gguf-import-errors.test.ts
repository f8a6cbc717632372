import { copyFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

import { GGMLQuantizationType, gguf } from '@huggingface/gguf'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'

import { isTillerError } from '../../src/main/core/errors.ts'
import type { TillerErrorCode } from '../../src/main/core/errors.ts'
import { serializeGguf, writeGgufFile } from '../../src/main/core/gguf/writer.ts'
import { readGgufFile } from '../../src/main/core/models/importers/gguf/gguf-file.ts'
import { importGguf, openGgufImport } from '../../src/main/core/models/importers/gguf/import-gguf.ts'
import { requireFixture, storiesGgufPath } from './helpers/fixtures.ts'
import { checkpointToGguf, randomCheckpoint, tinyConfig } from './helpers/gguf-model.ts'
import type { GgufModelOptions } from './helpers/gguf-model.ts'

/** Imports `path` and returns the TillerError it must fail with (or fails the test). */
async function importError(
  path: string,
): Promise<{ code: TillerErrorCode; message: string; subject?: string }> {
  const error: unknown = await importGguf(path).then(
    () => undefined,
    (caught: unknown) => caught,
  )
  if (!isTillerError(error)) throw new Error(`expected a TillerError for ${path}, got ${String(error)}`)
  return { code: error.code, message: error.message, subject: error.subject }
}

describe('GGUF import refuses bad input with errors naming the file and field', () => {
  let folder = ''
  const checkpoint = randomCheckpoint(tinyConfig, 5)

  async function writeModel(name: string, options: GgufModelOptions): Promise<string> {
    const path = join(folder, `${name}.gguf`)
    await writeGgufFile(path, checkpointToGguf(checkpoint, options))
    return path
  }

  beforeAll(async () => {
    folder = await mkdtemp(join(tmpdir(), 'tiller-gguf-errors-'))
  })
  afterAll(async () => {
    if (folder !== '') await rm(folder, { recursive: true, force: true })
  })

  it('a missing file', async () => {
    const path = join(folder, 'nowhere.gguf')
    const error = await importError(path)
    expect(error.code).toBe('file-not-found')
    expect(error.message).toContain(path)
  })

  it('a folder given instead of the file', async () => {
    const error = await importError(folder)
    expect(error.code).toBe('invalid-argument')
    expect(error.message).toBe(
      `${folder} is a folder, not a GGUF file; give the path of the .gguf file itself.`,
    )
  })

  it('a file that is not GGUF', async () => {
    const path = join(folder, 'not-gguf.gguf')
    await writeFile(path, 'GGML this is something else entirely')
    const error = await importError(path)
    expect(error.code).toBe('file-corrupt')
    expect(error.message).toContain(path)
    expect(error.message).toContain('magic')
  })

  it('GGUF versions other than 2 and 3', async () => {
    const original = await readFile(requireFixture(storiesGgufPath))
    for (const version of [1, 4]) {
      const path = join(folder, `version-${version}.gguf`)
      const patched = Buffer.from(original)
      patched.writeUInt32LE(version, 4)
      await writeFile(path, patched)
      const error = await importError(path)
      expect(error.code).toBe('file-corrupt')
      expect(error.message).toContain(`version ${version}`)
      expect(error.message).toContain(path)
    }
  })

  it('the real model truncated in its header, KV section, tensor infos and data', async () => {
    const original = await readFile(requireFixture(storiesGgufPath))
    const parsed = await gguf(storiesGgufPath, { allowLocalFile: true })
    const [infoStart, infoEnd] = parsed.tensorInfoByteRange
    const dataStart = Number(parsed.tensorDataOffset)
    const cuts = {
      header: 6,
      counts: 20,
      'KV section (first key)': 30,
      'KV section (token array)': 2000,
      'tensor infos': Math.floor((infoStart + infoEnd) / 2),
      'padding before data': infoEnd + 1,
      'first tensor': dataStart + 100,
      'last tensor': original.length - 4,
    }
    expect(infoStart).toBeGreaterThan(2000)
    for (const [where, length] of Object.entries(cuts)) {
      const path = join(folder, `truncated-${length}.gguf`)
      await writeFile(path, original.subarray(0, length))
      const error = await importError(path)
      expect({ where, code: error.code, namesFile: error.message.includes(path) }).toEqual({
        where,
        code: 'file-corrupt',
        namesFile: true,
      })
    }
  })

  it('an architecture outside the supported list', async () => {
    const path = await writeModel('falcon', {
      metadata: { 'general.architecture': { type: 'string', value: 'falcon' } },
    })
    const error = await importError(path)
    expect(error.code).toBe('unsupported-architecture')
    expect(error.message).toContain('"falcon"')
    expect(error.message).toContain('"llama", "qwen2", "qwen3", "phi3"')
    expect(error.subject).toBe(`${path}: general.architecture`)
  })

  /** The serialized test model with blk.0.ffn_up.weight (2 dims) re-labelled as `type`, written to `name`. */
  async function relabelled(name: string, type: GGMLQuantizationType): Promise<string> {
    const content = checkpointToGguf(checkpoint, { matrixType: GGMLQuantizationType.Q8_0 })
    const bytes = Buffer.concat(serializeGguf(content))
    // The type id follows the name, n_dims and two 64-bit dims.
    const tensorName = Buffer.from('blk.0.ffn_up.weight')
    const typeOffset = bytes.indexOf(tensorName) + tensorName.length + 4 + 16
    expect(bytes.readUInt32LE(typeOffset)).toBe(GGMLQuantizationType.Q8_0)
    bytes.writeUInt32LE(type, typeOffset)
    const path = join(folder, name)
    await writeFile(path, bytes)
    return path
  }

  for (const [label, type] of [
    ['IQ2_XXS', GGMLQuantizationType.IQ2_XXS],
    ['TQ1_0', GGMLQuantizationType.TQ1_0],
    ['Q8_K', GGMLQuantizationType.Q8_K],
  ] as const) {
    it(`a tensor type Tiller cannot read (${label}): one line naming the tensor, the type and what to do`, async () => {
      const path = await relabelled(`${label}.gguf`, type)
      const error = await importError(path)
      expect(error.code).toBe('unsupported-tensor-type')
      expect(error.subject).toBe(`${path}: blk.0.ffn_up.weight`)
      expect(error.message).toContain('"blk.0.ffn_up.weight"')
      expect(error.message).toContain(`type ${label},`)
      expect(error.message).toContain(path)
      expect(error.message).toContain('llama-quantize --allow-requantize IN.gguf OUT.gguf Q4_K_M')
      expect(error.message.split('\n')).toHaveLength(1)
    })
  }

  it('an unknown type id', async () => {
    const error = await importError(await relabelled('type-99.gguf', 99 as GGMLQuantizationType))
    expect(error.code).toBe('unsupported-tensor-type')
    expect(error.message).toContain('type 99,')
  })

  it('a K-quant tensor whose rows are not whole super-blocks of 256', async () => {
    // ffn_up rows hold hidden_size = 64 elements: a quarter of one Q4_K super-block.
    const path = await relabelled('q4k-rows.gguf', GGMLQuantizationType.Q4_K)
    const error = await importError(path)
    expect(error.code).toBe('file-corrupt')
    expect(error.message).toContain(
      'tensor "blk.0.ffn_up.weight" has 64 elements per row, not whole Q4_K blocks of 256',
    )
  })

  it('a block scale that is not a finite number (a damaged quantized tensor)', async () => {
    const path = join(folder, 'infinite-scale.gguf')
    await writeGgufFile(path, checkpointToGguf(checkpoint, { matrixType: GGMLQuantizationType.Q8_0 }))
    const tensor = (await readGgufFile(path)).tensors.get('blk.1.ffn_down.weight')
    if (tensor === undefined) throw new Error('blk.1.ffn_down.weight missing')
    const bytes = await readFile(path)
    // The fourth 34-byte Q8_0 block of a [64, 96] tensor starts row 1; its float16 scale becomes +infinity.
    bytes.writeUInt16LE(0x7c00, tensor.offset + 3 * 34)
    await writeFile(path, bytes)
    const error = await importError(path)
    expect(error.code).toBe('file-corrupt')
    expect(error.subject).toBe(`${path}: blk.1.ffn_down.weight`)
    expect(error.message).toContain(
      '"blk.1.ffn_down.weight" (Q8_0) holds a NaN or infinite value at row 1, column 0',
    )
  })

  it('a damaged block scale or minimum found from the scales alone, when the groups are not decoded', async () => {
    // A q4 export with int8 compute fits the zero points of blocks with offsets from their values and reads such
    // weights without their groups: the float16 scales at each block's start say whether the values are finite.
    const wide = randomCheckpoint({ ...tinyConfig, hiddenSize: 256, intermediateSize: 512, headDim: 64 }, 7)
    // ffn_down [256, 512]: Q4_1 has 20-byte blocks of 32 (scale, then minimum), row 1 starting at block 16; Q4_K has
    // 144-byte super-blocks of 256 (d, then dmin), row 1 starting at super-block 2. Layer 1 gets a damaged scale at
    // the row's first block, layer 0 a damaged minimum at its second.
    const layouts = [
      { type: GGMLQuantizationType.Q4_1, block: 20, rowStart: 16, secondColumn: 32 },
      { type: GGMLQuantizationType.Q4_K, block: 144, rowStart: 2, secondColumn: 256 },
    ]
    for (const layout of layouts) {
      const path = join(folder, `damaged-scales-${layout.type}.gguf`)
      await writeGgufFile(path, checkpointToGguf(wide, { matrixType: layout.type }))
      const { tensors } = await readGgufFile(path)
      const bytes = await readFile(path)
      const damaged = [
        { layer: 1, block: layout.rowStart, field: 0, column: 0 },
        { layer: 0, block: layout.rowStart + 1, field: 2, column: layout.secondColumn },
      ]
      for (const { layer, block, field } of damaged) {
        const offset = tensors.get(`blk.${layer}.ffn_down.weight`)?.offset ?? -1
        bytes.writeUInt16LE(0x7e00, offset + block * layout.block + field)
      }
      await writeFile(path, bytes)
      const opened = await openGgufImport(path)
      try {
        for (const { layer, column } of damaged) {
          const error: unknown = await opened.checkpoint.weights
            .load(`model.layers.${layer}.mlp.down_proj.weight`, { blocks: false })
            .catch((caught: unknown) => caught)
          expect(isTillerError(error) ? error.code : error).toBe('file-corrupt')
          expect(isTillerError(error) ? error.message : '').toContain(
            `holds a NaN or infinite value at row 1, column ${column}`,
          )
        }
      } finally {
        await opened.checkpoint.weights.close()
      }
    }
  })

  it('tensor shapes that disagree with the metadata', async () => {
    const path = await writeModel('ffn-mismatch', {
      metadata: { 'llama.feed_forward_length': { type: 'uint32', value: 128 } },
    })
    const error = await importError(path)
    expect(error.code).toBe('shape-mismatch')
    expect(error.message).toMatch(/tensor "blk\.0\.ffn_(gate|up|down)\.weight" has shape/)
    expect(error.message).toContain('llama.feed_forward_length 128')
  })

  it('a missing tensor, and a tensor a plain llama does not have', async () => {
    const missing = await importError(
      await writeModel('missing', { tensors: { 'blk.1.ffn_up.weight': undefined } }),
    )
    expect(missing.code).toBe('shape-mismatch')
    expect(missing.message).toContain('"blk.1.ffn_up.weight" is missing')
    const bias = {
      name: 'blk.0.attn_q.bias',
      type: GGMLQuantizationType.F32,
      shape: [64],
      data: new Float32Array(64),
    }
    const extra = await importError(await writeModel('bias', { tensors: { 'blk.0.attn_q.bias': bias } }))
    expect(extra.code).toBe('unsupported-architecture')
    expect(extra.message).toContain('"blk.0.attn_q.bias"')
  })

  it('partial rotary embeddings and RoPE scaling', async () => {
    const partial = await importError(
      await writeModel('partial-rope', {
        metadata: { 'llama.rope.dimension_count': { type: 'uint32', value: 8 } },
      }),
    )
    expect(partial.code).toBe('unsupported-architecture')
    expect(partial.message).toContain('llama.rope.dimension_count = 8')
    const scaled = await importError(
      await writeModel('rope-scaling', {
        metadata: { 'llama.rope.scaling.type': { type: 'string', value: 'yarn' } },
      }),
    )
    expect(scaled.code).toBe('unsupported-architecture')
    expect(scaled.subject).toContain('llama.rope.scaling.type')
  })

  it('missing or foreign tokenizer metadata', async () => {
    const absent = await importError(
      await writeModel('no-tokenizer', { metadata: { 'tokenizer.ggml.model': undefined } }),
    )
    expect(absent.code).toBe('missing-tokenizer')
    expect(absent.message).toContain('tokenizer.ggml.model')
    const t5 = await importError(
      await writeModel('t5', { metadata: { 'tokenizer.ggml.model': { type: 'string', value: 't5' } } }),
    )
    expect(t5.code).toBe('missing-tokenizer')
    expect(t5.subject).toContain('tokenizer.ggml.model')
    expect(t5.message).toContain('tokenizer.ggml.model is "t5"')
    const gpt2 = { 'tokenizer.ggml.model': { type: 'string', value: 'gpt2' } } as const
    const noMerges = await importError(await writeModel('gpt2-no-merges', { metadata: gpt2 }))
    expect(noMerges.code).toBe('missing-tokenizer')
    expect(noMerges.subject).toContain('tokenizer.ggml.merges')
    const unknownPre = await importError(
      await writeModel('gpt2-unknown-pre', {
        metadata: { ...gpt2, 'tokenizer.ggml.pre': { type: 'string', value: 'no-such-splitter' } },
      }),
    )
    expect(unknownPre.code).toBe('missing-tokenizer')
    expect(unknownPre.subject).toContain('tokenizer.ggml.pre')
    expect(unknownPre.message).toContain('tokenizer.ggml.pre is "no-such-splitter"')
    expect(unknownPre.message.split('\n')).toHaveLength(1)
    const badMerge = await importError(
      await writeModel('gpt2-bad-merge', {
        metadata: {
          ...gpt2,
          'tokenizer.ggml.pre': { type: 'string', value: 'qwen2' },
          'tokenizer.ggml.merges': { type: 'array', elementType: 'string', value: ['a b', 'ab'] },
        },
      }),
    )
    expect(badMerge.code).toBe('file-corrupt')
    expect(badMerge.message).toContain('entry 1 ("ab")')
    const noScores = await importError(
      await writeModel('no-scores', { metadata: { 'tokenizer.ggml.scores': undefined } }),
    )
    expect(noScores.code).toBe('missing-tokenizer')
    expect(noScores.subject).toContain('tokenizer.ggml.scores')
  })

  it('a missing or ill-typed model field', async () => {
    const missing = await importError(
      await writeModel('no-width', { metadata: { 'llama.embedding_length': undefined } }),
    )
    expect(missing.code).toBe('file-corrupt')
    expect(missing.message).toContain('"llama.embedding_length" is missing')
    const wrongType = await importError(
      await writeModel('string-layers', {
        metadata: { 'llama.block_count': { type: 'string', value: 'five' } },
      }),
    )
    expect(wrongType.code).toBe('file-corrupt')
    expect(wrongType.subject).toContain('llama.block_count')
  })

  it('still imports a copy of the real model (the cases above fail for their stated reason only)', async () => {
    const path = join(folder, 'copy.gguf')
    await copyFile(requireFixture(storiesGgufPath), path)
    const imported = await importGguf(path)
    expect(imported.checkpoint.config.numLayers).toBe(5)
  })
})
