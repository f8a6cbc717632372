import { createHash } from 'node:crypto'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { byteTokenizerFiles } from '../../src/main/core/models/byte-tokenizer.ts'
import {
  expectedWeightShapes,
  type LlamaCheckpoint,
  type WeightTensor,
} from '../../src/main/core/models/checkpoint.ts'
import {
  checkpointWeightsHash,
  exportModelFolder,
  recordedWeightsHash,
  type ExportDType,
} from '../../src/main/core/models/exporter/index.ts'
import { modelFiles } from '../../src/main/core/models/graph-contract.ts'
import { floatToHalf, halfToFloat } from '../../src/shared/float16.ts'
import { tinyCheckpoint, tinyConfig } from '../helpers/tiny-models.ts'

const scratch = mkdtempSync(join(tmpdir(), 'tiller-weights-hash-'))
afterAll(() => rmSync(scratch, { recursive: true, force: true }))

const tokenizer = byteTokenizerFiles(tinyConfig.vocabSize)

/** The documented scheme, computed value by value: scalar float16 rounding, DataView little-endian bytes. */
function referenceHash(checkpoint: LlamaCheckpoint, dtype: ExportDType): string {
  const hash = createHash('sha256').update(`tiller-weights-sha256/1\n${dtype}\n`)
  for (const name of [...expectedWeightShapes(checkpoint.config).keys()].sort()) {
    const tensor = checkpoint.weights.get(name) as WeightTensor
    hash.update(`${name}\t${tensor.shape.join(',')}\n`)
    const bytes = new DataView(new ArrayBuffer(tensor.data.length * 4))
    tensor.data.forEach((stored, index) => {
      const value = tensor.dtype === 'float16' ? halfToFloat(stored) : stored
      bytes.setFloat32(index * 4, dtype === 'float16' ? halfToFloat(floatToHalf(value)) : value, true)
    })
    hash.update(new Uint8Array(bytes.buffer))
  }
  return hash.digest('hex')
}

async function exportedHash(
  checkpoint: LlamaCheckpoint,
  name: string,
  options: Parameters<typeof exportModelFolder>[3],
): Promise<{ recorded: string | undefined; dataHash: string }> {
  const folder = join(scratch, name)
  await exportModelFolder(checkpoint, tokenizer, folder, options)
  const config = JSON.parse(readFileSync(join(folder, modelFiles.config), 'utf8')) as Record<string, unknown>
  const dataFile = options.dtype === 'float16' ? modelFiles.graphFloat16 : modelFiles.graph
  const data = readFileSync(join(folder, `${dataFile}_data`))
  return { recorded: recordedWeightsHash(config), dataHash: createHash('sha256').update(data).digest('hex') }
}

describe('logical weights hash', () => {
  const checkpoint = tinyCheckpoint({ seed: 11 })

  it('every family and attention variant of one checkpoint records the same hash, the reference one', async () => {
    const expected = referenceHash(checkpoint, 'float32')
    const builder = await exportedHash(checkpoint, 'builder', { family: 'builder' })
    const gqa = await exportedHash(checkpoint, 'builder-gqa', { family: 'builder', attention: 'gqa' })
    const optimum = await exportedHash(checkpoint, 'optimum', { family: 'optimum' })
    expect(builder.recorded).toBe(expected)
    expect(gqa.recorded).toBe(expected)
    expect(optimum.recorded).toBe(expected)
    expect(checkpointWeightsHash(checkpoint, 'float32')).toBe(expected)
    // The files differ (layout, extra tensors), so a file hash could not have matched them.
    expect(new Set([builder.dataHash, optimum.dataHash]).size).toBe(2)
  })

  it('float16 exports hash the float16-rounded values under their own dtype', async () => {
    const half = await exportedHash(checkpoint, 'optimum-fp16', { family: 'optimum', dtype: 'float16' })
    expect(half.recorded).toBe(referenceHash(checkpoint, 'float16'))
    expect(half.recorded).not.toBe(referenceHash(checkpoint, 'float32'))
    // A float16 checkpoint holding those rounded values is the same float16 model.
    const halves: LlamaCheckpoint = {
      config: checkpoint.config,
      weights: new Map(
        [...checkpoint.weights].map(([name, tensor]) => [
          name,
          { dtype: 'float16', shape: tensor.shape, data: Uint16Array.from(tensor.data, floatToHalf) },
        ]),
      ),
    }
    expect(checkpointWeightsHash(halves, 'float16')).toBe(half.recorded)
  })

  it('depends on the values, not on the order of the weight map or on weights the export leaves out', () => {
    const expected = checkpointWeightsHash(checkpoint, 'float32')
    const reordered: LlamaCheckpoint = {
      config: checkpoint.config,
      weights: new Map([...checkpoint.weights].reverse()),
    }
    reordered.weights.set('unused.extra.weight', {
      dtype: 'float32',
      shape: [2],
      data: Float32Array.of(1, 2),
    })
    expect(checkpointWeightsHash(reordered, 'float32')).toBe(expected)
    expect(checkpointWeightsHash(tinyCheckpoint({ seed: 12 }), 'float32')).not.toBe(expected)
    const nudged = tinyCheckpoint({ seed: 11 })
    const norm = nudged.weights.get('model.norm.weight') as WeightTensor
    norm.data[0] = (norm.data[0] ?? 0) + 1e-6
    expect(checkpointWeightsHash(nudged, 'float32')).not.toBe(expected)
  })

  it('folders without a recorded hash read as having none', () => {
    expect(recordedWeightsHash({})).toBeUndefined()
    expect(recordedWeightsHash({ tiller: { weightsHash: 'not a hash' } })).toBeUndefined()
    expect(recordedWeightsHash({ tiller: { weightsHash: 'a'.repeat(64) } })).toBe('a'.repeat(64))
  })
})
