import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

import { GGMLQuantizationType } from '@huggingface/gguf'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'

import { writeGgufFile } from '../../src/main/core/gguf/writer.ts'
import {
  exportModelFolder,
  type ExportDType,
  type LinearCompute,
  type QuantizationReport,
} from '../../src/main/core/models/exporter/index.ts'
import { openGgufImport } from '../../src/main/core/models/importers/gguf/import-gguf.ts'
import { familyCheckpointToGguf } from './helpers/family-gguf.ts'
import { requireFixture, storiesGgufPath } from './helpers/fixtures.ts'
import { checkpointToGguf, randomCheckpoint, tinyConfig } from './helpers/gguf-model.ts'

/** Every file of a model folder, by relative path, as bytes. */
async function folderBytes(folder: string): Promise<Map<string, Buffer>> {
  const files = new Map<string, Buffer>()
  for (const name of await readdir(folder, { recursive: true })) {
    const path = join(folder, name)
    if ((await stat(path)).isFile()) files.set(name, await readFile(path))
  }
  return files
}

/**
 * The export reads matrices a band of rows at a time (weight-pass.ts). Whatever the band, the folder is the same,
 * byte for byte: exporting with the smallest bands (one row, or one head's rows for permuted q/k projections)
 * gives the folder of bands larger than any matrix, for every way a weight is written: as is (streamed), transposed
 * (gathered), MatMulNBits copied exactly, requantized, with integer or float zero points, a tied head beside the
 * embedding, fused parts split.
 */
describe('GGUF import by bands of rows', () => {
  let folder = ''
  const files = new Map<string, string>()
  beforeAll(async () => {
    requireFixture(storiesGgufPath)
    folder = await mkdtemp(join(tmpdir(), 'tiller-row-bands-'))
    const config = { ...tinyConfig, hiddenSize: 256, intermediateSize: 512, headDim: 64 }
    const write = async (name: string, content: Parameters<typeof writeGgufFile>[1]): Promise<void> => {
      files.set(name, join(folder, `${name}.gguf`))
      await writeGgufFile(join(folder, `${name}.gguf`), content)
    }
    await write(
      'mixed',
      checkpointToGguf(randomCheckpoint(config, 3), {
        matrixType: GGMLQuantizationType.Q4_K,
        tensorTypes: {
          'output.weight': GGMLQuantizationType.Q6_K,
          'blk.0.ffn_down.weight': GGMLQuantizationType.Q8_0,
        },
      }),
    )
    await write(
      'q4_0',
      checkpointToGguf(randomCheckpoint(config, 4), { matrixType: GGMLQuantizationType.Q4_0 }),
    )
    await write(
      'q4_1',
      checkpointToGguf(randomCheckpoint(config, 5), { matrixType: GGMLQuantizationType.Q4_1 }),
    )
    await write(
      'q5_k',
      checkpointToGguf(randomCheckpoint(config, 8), { matrixType: GGMLQuantizationType.Q5_K }),
    )
    await write(
      'tied',
      checkpointToGguf(randomCheckpoint({ ...config, tieWordEmbeddings: true }, 7), {
        matrixType: GGMLQuantizationType.Q8_0,
      }),
    )
    const phi = randomCheckpoint(
      { ...tinyConfig, hiddenSize: 64, intermediateSize: 96, architecture: 'phi3' },
      6,
    )
    await write('phi3', familyCheckpointToGguf(phi, 'phi3', { matrixType: GGMLQuantizationType.Q8_0 }))
  })
  afterAll(async () => {
    if (folder !== '') await rm(folder, { recursive: true, force: true })
  })

  const cases: { file: string; dtype: ExportDType; compute?: LinearCompute }[] = [
    { file: 'stories', dtype: 'float32' },
    { file: 'tied', dtype: 'q4' },
    { file: 'mixed', dtype: 'q4' },
    { file: 'mixed', dtype: 'q4', compute: 'float32' },
    { file: 'mixed', dtype: 'float16' },
    { file: 'q4_0', dtype: 'q4' },
    { file: 'q4_1', dtype: 'q4', compute: 'float32' },
    { file: 'q4_1', dtype: 'q8' },
    { file: 'q5_k', dtype: 'q4' },
    { file: 'phi3', dtype: 'q8' },
  ]
  for (const [index, { file, dtype, compute }] of cases.entries()) {
    it(`${file} as ${dtype}${compute === undefined ? '' : ` (${compute} compute)`}: one-row bands write the same folder as whole matrices`, async () => {
      const path = file === 'stories' ? storiesGgufPath : (files.get(file) as string)
      const exportTo = async (bandElements: number, suffix: string): Promise<QuantizationReport> => {
        const out = join(folder, `${index}-${suffix}`)
        const opened = await openGgufImport(path)
        try {
          return await exportModelFolder(opened.checkpoint, opened.tokenizer, out, {
            family: 'builder',
            dtype,
            ...(compute === undefined ? {} : { compute }),
            bandElements,
          })
        } finally {
          await opened.checkpoint.weights.close()
        }
      }
      const reports: QuantizationReport[] = []
      const exported = async (bandElements: number, suffix: string): Promise<Map<string, Buffer>> => {
        reports.push(await exportTo(bandElements, suffix))
        return folderBytes(join(folder, `${index}-${suffix}`))
      }
      const banded = await exported(1, 'banded')
      const whole = await exported(1 << 30, 'whole')
      // Bands of a 5-bit type arrive without their decoded groups, yet its offsets are still fitted at 4 bits.
      if (file === 'q5_k') expect(reports.map((report) => report.fittedTensors > 0)).toEqual([true, true])
      expect([...banded.keys()].sort()).toEqual([...whole.keys()].sort())
      for (const [name, bytes] of banded)
        expect({ name, same: bytes.equals(whole.get(name) as Buffer) }).toEqual({ name, same: true })
    })
  }
})
