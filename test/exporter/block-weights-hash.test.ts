import { createHash } from 'node:crypto'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  expectedWeightShapes,
  withLazyValues,
  type WeightTensor,
} from '../../src/main/core/models/checkpoint.ts'
import { embeddingWeight } from '../../src/main/core/models/exporter/embedding.ts'
import { exportModelFolder, recordedWeightsHash } from '../../src/main/core/models/exporter/index.ts'
import { modelFiles } from '../../src/main/core/models/graph-contract.ts'
import { openGgufImport } from '../../src/main/core/models/importers/gguf/import-gguf.ts'
import type { StreamedCheckpoint, WeightSource } from '../../src/main/core/models/weight-source.ts'
import { syntheticConfig, writeSyntheticGguf } from '../importers/helpers/synthetic-gguf.ts'

/**
 * A q8 export of a Q8_0 GGUF copies every matrix's blocks: it hashes the blocks (weights-hash.ts) and never
 * computes the float values, which are four times the blocks' bytes. A one-layer synthetic Q8_0 Llama (hidden 1024,
 * vocabulary 4096, a 23 MB file).
 */

/** The source with every block weight's float values refused: reading them fails the export. */
function withoutValues(source: WeightSource): WeightSource {
  const refuse = (tensor: WeightTensor): WeightTensor => {
    if (tensor.blocks?.determineValues !== true) return tensor
    const { dtype, shape, blocks, sourceBits } = tensor
    return withLazyValues(
      { dtype, shape, blocks, ...(sourceBits === undefined ? {} : { sourceBits }) },
      () => {
        throw new Error(`the float values of a ${shape.join('×')} block weight were read`)
      },
    )
  }
  return {
    entries: source.entries,
    load: async (name, options) => refuse(await source.load(name, options)),
    loadRows: async (name, first, count, options) =>
      refuse(await source.loadRows(name, first, count, options)),
    rowStep: (name) => source.rowStep(name),
    close: () => source.close(),
  }
}

/** The scheme as documented, from whole weights: blocks for the matrices, float32 values for the rest. */
async function referenceHash(checkpoint: StreamedCheckpoint): Promise<string> {
  const hash = createHash('sha256').update('tiller-weights-sha256/1\nq8\tint8\n')
  for (const name of [...expectedWeightShapes(checkpoint.config).keys()].sort()) {
    const tensor = await checkpoint.weights.load(name, { blocks: true })
    const { blocks } = tensor
    const gathered = name === embeddingWeight ? '\tgather-blocks' : ''
    if (blocks === undefined) {
      hash.update(`${name}\t${tensor.shape.join(',')}${gathered}\n`)
      const values = tensor.data as Float32Array
      hash.update(new Uint8Array(values.buffer, values.byteOffset, values.byteLength))
      continue
    }
    hash.update(`${name}\t${tensor.shape.join(',')}${gathered}\tblocks/8/128\n`)
    hash.update(blocks.quants)
    hash.update(createHash('sha256').update(new Uint8Array(blocks.scales.buffer)).digest())
  }
  return hash.digest('hex')
}

describe('weights hash of blocks copied exactly', () => {
  let folder = ''
  let gguf = ''
  beforeAll(async () => {
    folder = await mkdtemp(join(tmpdir(), 'tiller-block-hash-'))
    gguf = join(folder, 'model.gguf')
    writeSyntheticGguf(gguf, syntheticConfig(1))
  })
  afterAll(async () => {
    if (folder !== '') await rm(folder, { recursive: true, force: true })
  })

  async function exportedHash(
    name: string,
    change: (source: WeightSource) => WeightSource,
    bandElements?: number,
  ): Promise<string | undefined> {
    const opened = await openGgufImport(gguf)
    const checkpoint = { ...opened.checkpoint, weights: change(opened.checkpoint.weights) }
    const out = join(folder, name)
    try {
      const report = await exportModelFolder(checkpoint, opened.tokenizer, out, {
        family: 'builder',
        dtype: 'q8',
        ...(bandElements === undefined ? {} : { bandElements }),
      })
      // Seven layer matrices, the embedding (gathered from its blocks) and the head.
      expect(report.exactTensors).toBe(9)
    } finally {
      await checkpoint.weights.close()
    }
    const config = JSON.parse(await readFile(join(out, modelFiles.config), 'utf8')) as Record<string, unknown>
    return recordedWeightsHash(config)
  }

  it('exports without reading any block weight float values, hashing the blocks as documented', async () => {
    const streamed = await exportedHash('without-values', withoutValues)
    const opened = await openGgufImport(gguf)
    try {
      expect(streamed).toBe(await referenceHash(opened.checkpoint))
    } finally {
      await opened.checkpoint.weights.close()
    }
  })

  it('records the same hash whether the matrices are read whole or in bands of rows', async () => {
    const whole = await exportedHash('whole', (source) => source, 1 << 30)
    // 64 rows of 1024 values a band: every matrix in several bands, q/k a head at a time.
    const banded = await exportedHash('banded', (source) => source, 64 * 1024)
    expect(banded).toBe(whole)
    expect(whole).toMatch(/^[0-9a-f]{64}$/)
  })
})
