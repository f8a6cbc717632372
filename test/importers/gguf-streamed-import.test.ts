import { existsSync } from 'node:fs'
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

import { GGMLQuantizationType } from '@huggingface/gguf'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'

import { importProgressLine, importProgressPrinter } from '../../src/main/cli/commands/import-progress.ts'
import { writeGgufFile } from '../../src/main/core/gguf/writer.ts'
import { exportModelFolder, type ExportProgress } from '../../src/main/core/models/exporter/index.ts'
import { importGguf, openGgufImport } from '../../src/main/core/models/importers/gguf/import-gguf.ts'
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

describe('streamed GGUF import', () => {
  let folder = ''
  let mixedGguf = ''
  let phiGguf = ''
  beforeAll(async () => {
    requireFixture(storiesGgufPath)
    folder = await mkdtemp(join(tmpdir(), 'tiller-streamed-import-'))
    mixedGguf = join(folder, 'mixed.gguf')
    // Q4_K matrices with a Q6_K classifier and ffn_down (a Q4_K_M mix), with a separate output.weight.
    const checkpoint = randomCheckpoint(
      { ...tinyConfig, hiddenSize: 256, intermediateSize: 512, headDim: 64 },
      3,
    )
    await writeGgufFile(
      mixedGguf,
      checkpointToGguf(checkpoint, {
        matrixType: GGMLQuantizationType.Q4_K,
        tensorTypes: {
          'output.weight': GGMLQuantizationType.Q6_K,
          'blk.0.ffn_down.weight': GGMLQuantizationType.Q6_K,
        },
      }),
    )
    // Phi-3 stores fused qkv and gate/up tensors, which the streamed source splits and hands out part by part.
    phiGguf = join(folder, 'phi3.gguf')
    const phi = randomCheckpoint(
      { ...tinyConfig, hiddenSize: 64, intermediateSize: 96, architecture: 'phi3' },
      5,
    )
    await writeGgufFile(
      phiGguf,
      familyCheckpointToGguf(phi, 'phi3', { matrixType: GGMLQuantizationType.Q8_0 }),
    )
  })
  afterAll(async () => {
    if (folder !== '') await rm(folder, { recursive: true, force: true })
  })

  const cases = [
    { name: 'stories260K (F32, tied classifier)', file: () => storiesGgufPath, dtype: 'float32' as const },
    { name: 'a Q4_K_M-style mix', file: () => mixedGguf, dtype: 'q4' as const },
    { name: 'a Q4_K_M-style mix', file: () => mixedGguf, dtype: 'float16' as const },
    { name: 'Phi-3 (fused qkv and gate/up, Q8_0)', file: () => phiGguf, dtype: 'q8' as const },
  ]
  for (const { name, file, dtype } of cases) {
    it(`${name} as ${dtype}: writes the same folder, byte for byte, as the import that reads every weight first`, async () => {
      const streamedFolder = join(
        folder,
        `streamed-${dtype}-${cases.findIndex((entry) => entry.file === file)}`,
      )
      const memoryFolder = `${streamedFolder}-memory`
      const opened = await openGgufImport(file())
      const progress: ExportProgress[] = []
      let streamedReport
      try {
        streamedReport = await exportModelFolder(opened.checkpoint, opened.tokenizer, streamedFolder, {
          family: 'builder',
          dtype,
          onProgress: (step) => progress.push(step),
        })
      } finally {
        await opened.checkpoint.weights.close()
      }
      const imported = await importGguf(file())
      const memoryReport = await exportModelFolder(imported.checkpoint, imported.tokenizer, memoryFolder, {
        family: 'builder',
        dtype,
      })
      expect(streamedReport).toEqual(memoryReport)
      expect(opened.source).toEqual(imported.source)
      const streamed = await folderBytes(streamedFolder)
      const memory = await folderBytes(memoryFolder)
      expect([...streamed.keys()].sort()).toEqual([...memory.keys()].sort())
      for (const [path, bytes] of streamed)
        expect({ path, same: bytes.equals(memory.get(path) as Buffer) }).toEqual({ path, same: true })

      // One progress step per source weight, in order, ending with the data file's final size.
      const weightCount = imported.checkpoint.weights.size
      expect(progress.map((step) => step.tensor)).toEqual(
        Array.from({ length: weightCount }, (_, index) => index + 1),
      )
      expect(new Set(progress.map((step) => step.tensors))).toEqual(new Set([weightCount]))
      expect(new Set(progress.map((step) => step.name))).toEqual(new Set(imported.checkpoint.weights.keys()))
      const dataFile = [...streamed.keys()].find((path) => path.endsWith('_data')) as string
      expect(progress.at(-1)?.writtenBytes).toBe(streamed.get(dataFile)?.byteLength)
      for (let index = 1; index < progress.length; index++) {
        expect(progress[index]?.writtenBytes).toBeGreaterThanOrEqual(progress[index - 1]?.writtenBytes ?? 0)
      }
    })
  }

  it('a cancelled import stops between weights and leaves no folder and no staging files behind', async () => {
    const parent = join(folder, 'cancel')
    const outDir = join(parent, 'model')
    const controller = new AbortController()
    const opened = await openGgufImport(mixedGguf)
    let steps = 0
    try {
      await expect(
        exportModelFolder(opened.checkpoint, opened.tokenizer, outDir, {
          family: 'builder',
          dtype: 'q4',
          signal: controller.signal,
          onProgress: () => {
            steps += 1
            if (steps === 3) controller.abort()
          },
        }),
      ).rejects.toMatchObject({ code: 'cancelled' })
    } finally {
      await opened.checkpoint.weights.close()
    }
    expect(steps).toBe(3)
    expect(existsSync(outDir)).toBe(false)
    expect(existsSync(parent) ? await readdir(parent) : []).toEqual([])
  })

  it('decodes block groups only for callers that use them, with the same values either way', async () => {
    const opened = await openGgufImport(mixedGguf)
    try {
      const name = 'model.layers.1.mlp.up_proj.weight'
      const withBlocks = await opened.checkpoint.weights.load(name)
      const withoutBlocks = await opened.checkpoint.weights.load(name, { blocks: false })
      expect(withBlocks.blocks?.groupSize).toBe(32)
      expect(withoutBlocks.blocks).toBeUndefined()
      expect(withoutBlocks.sourceBits).toBe(4)
      expect(Buffer.from(withoutBlocks.data.buffer).equals(Buffer.from(withBlocks.data.buffer))).toBe(true)
    } finally {
      await opened.checkpoint.weights.close()
    }
  })

  it('a closed source refuses to read more weights', async () => {
    const opened = await openGgufImport(mixedGguf)
    await opened.checkpoint.weights.close()
    await expect(opened.checkpoint.weights.load('model.embed_tokens.weight')).rejects.toMatchObject({
      code: 'internal',
    })
  })
})

describe('tiller import progress line', () => {
  const step = (tensor: number, writtenBytes: number): ExportProgress => ({
    tensor,
    tensors: 20,
    name: `model.layers.${tensor}.mlp.up_proj.weight`,
    writtenBytes,
  })

  it('names the weight count, the weight and the megabytes written', () => {
    expect(importProgressLine(step(7, 12_345_678))).toBe(
      'Writing weights: tensor 7/20 (model.layers.7.mlp.up_proj.weight), 12.3 MB written',
    )
  })

  it('off a terminal prints a line at each tenth of the weights and at the last one', () => {
    const lines: string[] = []
    const print = importProgressPrinter({ isTTY: false, write: (text) => lines.push(text) })
    for (let tensor = 1; tensor <= 20; tensor++) print(step(tensor, tensor * 1e6))
    expect(lines).toHaveLength(10)
    expect(lines.every((line) => line.endsWith('MB written\n'))).toBe(true)
    expect(lines.map((line) => /tensor (\d+)\/20/.exec(line)?.[1])).toEqual([
      '2',
      '4',
      '6',
      '8',
      '10',
      '12',
      '14',
      '16',
      '18',
      '20',
    ])
  })

  it('on a terminal rewrites one line at most every interval and ends it at the last weight', () => {
    const writes: string[] = []
    let clock = 0
    const print = importProgressPrinter({ isTTY: true, write: (text) => writes.push(text) }, 200, () => clock)
    for (let tensor = 1; tensor <= 20; tensor++) {
      clock += 50
      print(step(tensor, tensor * 1e6))
    }
    // At 50 ms, then every 200 ms (tensors 1, 5, 9, 13, 17), and the last one.
    expect(writes.map((text) => /tensor (\d+)\//.exec(text)?.[1])).toEqual(['1', '5', '9', '13', '17', '20'])
    expect(writes.every((text) => text.startsWith('\r\u001b[2K'))).toBe(true)
    expect(writes.filter((text) => text.endsWith('\n'))).toEqual([writes.at(-1)])
  })
})
