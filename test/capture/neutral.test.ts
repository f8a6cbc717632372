import { existsSync, readdirSync } from 'node:fs'
import { cp, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { captureNeutral, fedTokens, promptTokens } from '../../src/main/core/capture/neutral.ts'
import { readDemonstrationFile } from '../../src/main/core/data/jsonl.ts'
import { contrastPairs } from '../../src/main/core/data/pairs.ts'
import { renderPairs, type RenderedExample } from '../../src/main/core/data/render.ts'
import { loadRenderTokenizer } from '../../src/main/core/data/tokenizer.ts'
import { compileGraph } from '../../src/main/core/edits/compiler/compile.ts'
import { hookOutputName } from '../../src/main/core/models/locator/hook-map.ts'
import { organismModelDirectory } from '../../src/organism/organism-paths.ts'
import { forwardBatch } from '../../src/main/core/runtime/forward.ts'
import { generate } from '../../src/main/core/runtime/generate.ts'
import { loadModel, type LoadedModel } from '../../src/main/core/runtime/model.ts'

let scratch = ''
let model: LoadedModel
let examples: RenderedExample[]

beforeAll(async () => {
  // Hooked graphs are compiled next to the weights: a scratch copy keeps the committed folder clean.
  scratch = await mkdtemp(join(tmpdir(), 'tiller-neutral-'))
  await cp(organismModelDirectory, join(scratch, 'model'), { recursive: true })
  model = await loadModel(join(scratch, 'model'), { provider: 'cpu' })
  const set = await readDemonstrationFile('resources/datasets/truthfulness.pairs.jsonl')
  const tokenizer = await loadRenderTokenizer(model.folder)
  examples = renderPairs(contrastPairs(set, 'train').slice(0, 3), tokenizer, set.source).examples
})

afterAll(async () => {
  await model?.dispose()
  await rm(scratch, { recursive: true, force: true })
})

describe('fedTokens', () => {
  it('feeds prompt + generated[:-1], or the prompt alone for 0 or 1 generated tokens', () => {
    expect(fedTokens([1, 2], [7, 8, 3])).toEqual([1, 2, 7, 8])
    expect(fedTokens([1, 2], [7])).toEqual([1, 2])
    expect(fedTokens([1, 2], [])).toEqual([1, 2])
  })
})

describe('captureNeutral on the organism', () => {
  it('gives one finite row per prompt at the last token fed, cached on disk', async () => {
    const cacheDirectory = join(scratch, 'cache')
    const options = {
      site: 'resid_post' as const,
      layers: [3, 5],
      maxNewTokens: 16,
      batchSize: 2,
      cacheDirectory,
    }
    const neutral = await captureNeutral(model, examples, options)
    expect(neutral.rows).toBe(3)
    expect(neutral.width).toBe(224)
    expect(neutral.layers).toEqual([3, 5])
    for (const values of neutral.values) {
      expect(values.length).toBe(3 * 224)
      expect(values.every(Number.isFinite)).toBe(true)
      expect(values.some((value) => value !== 0)).toBe(true)
    }

    // Reference: one unpadded row at a time, the greedy response fed back minus its last token.
    const compiled = await compileGraph(model.folder, {
      edits: [],
      hooks: [{ layer: 5, site: 'resid_post' }],
    })
    const hooked = await loadModel(model.folder, { provider: 'cpu', graphFile: compiled.graphFile })
    try {
      for (const [row, example] of examples.entries()) {
        const prompt = promptTokens(example)
        expect(prompt.length).toBe(example.positive.assistantStart)
        const [response] = await generate(model, {
          rows: [prompt],
          options: { maxTokens: 16, temperature: 0 },
        })
        const fed = fedTokens(prompt, response?.generated ?? [])
        const result = await forwardBatch(hooked, [fed], { fetch: [hookOutputName('resid_post', 5)] })
        const output = result.outputs[hookOutputName('resid_post', 5)]?.data as Float32Array
        const expected = output.subarray((fed.length - 1) * 224, fed.length * 224)
        const actual = (neutral.values[1] as Float32Array).subarray(row * 224, (row + 1) * 224)
        let difference = 0
        let largest = 0
        actual.forEach((value, column) => {
          difference = Math.max(difference, Math.abs(value - (expected[column] as number)))
          largest = Math.max(largest, Math.abs(expected[column] as number))
        })
        // Left padding, and capture's products packing their weights per run instead of at load, change the
        // kernels' summation order only: a few float32 ulps of the row's largest value (about 300 at layer 5).
        expect(difference).toBeLessThan(1e-6 * largest)
      }
    } finally {
      await hooked.dispose()
    }

    const files = readdirSync(cacheDirectory).filter((file) => file.startsWith('neutral-'))
    expect(files).toHaveLength(1)
    const again = await captureNeutral(model, examples, options)
    expect(again.values[0]).toEqual(neutral.values[0])
    expect(existsSync(join(cacheDirectory, files[0] as string))).toBe(true)
  })
})
