import { existsSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { positionSelectors, type PositionSelector } from '../../src/shared/activations.ts'
import { captureActivations } from '../../src/main/core/capture/capture.ts'
import { readActivationSet } from '../../src/main/core/capture/activation-file.ts'
import type { RenderedExample, RenderedSequence } from '../../src/main/core/data/render.ts'
import { compileGraph } from '../../src/main/core/edits/compiler/compile.ts'
import { fingerprintModel } from '../../src/main/core/edits/fingerprint.ts'
import { hookOutputName } from '../../src/main/core/models/locator/hook-map.ts'
import { loadModel as loadGraph } from '../../src/main/core/onnx/external-data.ts'
import { forwardBatch } from '../../src/main/core/runtime/forward.ts'
import { loadModel, type LoadedModel } from '../../src/main/core/runtime/model.ts'
import { testModels } from '../compiler/models.ts'
import { maxDifference } from '../compiler/support.ts'

/** A rendered side: `prompt` tokens then `completion` tokens; the assistant turn starts at the completion. */
function side(prompt: number[], completion: number[], answerLetter?: number): RenderedSequence {
  const tokenIds = [...prompt, ...completion]
  return {
    text: '',
    tokenIds,
    prompt: { start: 0, end: prompt.length },
    completion: { start: prompt.length, end: tokenIds.length },
    lastPromptToken: prompt.length - 1,
    assistantStart: prompt.length,
    answerLetter: answerLetter === undefined ? undefined : prompt.length + answerLetter,
    padding: 0,
  }
}

// Sides of different lengths, so batches are left padded and per-token pairing must drop the extra tokens.
const examples: RenderedExample[] = [
  { id: 'a', lines: [1], positive: side([1, 5, 6], [7, 8, 9], 0), negative: side([1, 5, 6], [10, 11], 0) },
  {
    id: 'b',
    lines: [2],
    positive: side([1, 12], [13, 14], 1),
    negative: side([1, 12, 15, 16], [17, 18, 19], 1),
  },
  { id: 'c', lines: [3], positive: side([1, 20, 21, 22], [23], 0), negative: side([1, 24], [25, 26], 0) },
]

/** The selector's rows for one side, read from an unpadded single-row run `[seq, width]`. */
function expectedRows(
  selector: PositionSelector,
  sequence: RenderedSequence,
  values: Float32Array,
  width: number,
  pairedCount: number,
): Float32Array[] {
  const at = (index: number) => values.subarray(index * width, (index + 1) * width)
  const mean = (indices: number[]) => {
    const sum = new Float32Array(width)
    for (const index of indices)
      at(index).forEach((value, column) => (sum[column] = (sum[column] ?? 0) + value / indices.length))
    return sum
  }
  const span = (start: number, end: number) =>
    Array.from({ length: end - start }, (_, offset) => start + offset)
  switch (selector) {
    case 'last':
      return [at(sequence.tokenIds.length - 1)]
    case 'lastPrompt':
      return [at(sequence.lastPromptToken)]
    case 'answerLetter':
      return [at(sequence.answerLetter ?? -1)]
    case 'completionMean':
      return [mean(span(sequence.completion.start, sequence.completion.end))]
    case 'fromAssistantStart':
      return [mean(span(sequence.assistantStart, sequence.tokenIds.length))]
    case 'completionTokens':
      return span(sequence.completion.start, sequence.completion.start + pairedCount).map(at)
    case 'promptTokens':
      return span(sequence.prompt.start, sequence.prompt.start + pairedCount).map(at)
  }
}

describe.each(testModels)('capture: $name', ({ create, activationType }) => {
  let folder = ''
  let model: LoadedModel
  let single: LoadedModel
  const layers = [0, 1]
  const site = 'resid_post'
  // Batched, left-padded runs agree with single-row runs up to rounding of the activation type.
  const tolerance = activationType === 'float16' ? 2e-2 : 1e-5

  beforeAll(async () => {
    folder = await create()
    model = await loadModel(folder, { provider: 'cpu' })
    const compiled = await compileGraph(folder, {
      edits: [],
      hooks: layers.map((layer) => ({ layer, site })),
    })
    single = await loadModel(folder, {
      provider: 'cpu',
      graphFile: compiled.graphFile,
      tokenizer: model.tokenizer,
    })
  })
  afterAll(async () => {
    await model.dispose()
    await single.dispose()
  })

  for (const selector of positionSelectors) {
    it(`${selector}: batched capture equals single-row runs read at the selected positions`, async () => {
      const set = await captureActivations(model, examples, {
        site,
        selector,
        layers,
        batchSize: 2,
        cacheDirectory: false,
      })
      expect(set.layers).toEqual(layers)
      expect(set.exampleIds).toEqual(['a', 'b', 'c'])
      const perToken = selector === 'completionTokens' || selector === 'promptTokens'
      const counts = examples.map((example) => {
        if (!perToken) return 1
        const span = (sequence: RenderedSequence) =>
          selector === 'completionTokens' ? sequence.completion : sequence.prompt
        return Math.min(
          span(example.positive).end - span(example.positive).start,
          span(example.negative).end - span(example.negative).start,
        )
      })
      expect(set.rowsPerPair).toEqual(perToken ? counts : undefined)
      expect(set.rows).toBe(counts.reduce((total, count) => total + count, 0))
      for (const [layerIndex, layer] of layers.entries()) {
        let row = 0
        for (const [exampleIndex, example] of examples.entries()) {
          for (const [sideName, sequence] of [
            ['positive', example.positive],
            ['negative', example.negative],
          ] as const) {
            const run = await forwardBatch(single, [sequence.tokenIds], {
              fetch: [hookOutputName(site, layer)],
            })
            const values = run.outputs[hookOutputName(site, layer)]?.data as Float32Array
            const expected = expectedRows(selector, sequence, values, set.width, counts[exampleIndex] ?? 0)
            const matrix = (sideName === 'positive' ? set.positive : set.negative)[layerIndex] as Float32Array
            expected.forEach((vector, offset) => {
              const actual = matrix.subarray((row + offset) * set.width, (row + offset + 1) * set.width)
              expect(
                maxDifference(actual, vector),
                `${example.id} ${sideName} layer ${layer}`,
              ).toBeLessThanOrEqual(tolerance)
            })
          }
          row += counts[exampleIndex] ?? 0
        }
      }
    })
  }

  it('caches the activation set as safetensors keyed by graph, weights, data, site, selector and layers', async () => {
    const cacheDirectory = join(folder, 'activation-cache')
    const first = await captureActivations(model, examples, {
      site,
      selector: 'last',
      layers,
      cacheDirectory,
    })
    const files = readdirSync(cacheDirectory).filter((name) => name.endsWith('.safetensors'))
    expect(files).toHaveLength(1)
    const stored = await readActivationSet(join(cacheDirectory, files[0] ?? ''))
    expect(stored).toEqual(first)
    // Without a fingerprint given, the set carries the folder's own (its weights hash, not the graph's).
    expect(first.model).toEqual(await fingerprintModel(folder))
    const again = await captureActivations(model, examples, {
      site,
      selector: 'last',
      layers,
      cacheDirectory,
    })
    expect(again).toEqual(first)
    await captureActivations(model, examples, { site, selector: 'lastPrompt', layers, cacheDirectory })
    expect(readdirSync(cacheDirectory).filter((name) => name.endsWith('.safetensors'))).toHaveLength(2)
    expect(existsSync(join(cacheDirectory, files[0] ?? ''))).toBe(true)
    // Weights replaced in the same folder (same graph, another weights hash) must not read the old activations.
    const replaced = await captureActivations(model, examples, {
      site,
      selector: 'last',
      layers,
      cacheDirectory,
      fingerprint: { ...first.model, weightsHash: `${first.model.weightsHash}-replaced` },
    })
    expect(readdirSync(cacheDirectory).filter((name) => name.endsWith('.safetensors'))).toHaveLength(3)
    expect(replaced.model.weightsHash).toBe(`${first.model.weightsHash}-replaced`)
  })

  it('records the head count of attn_heads sets (and keeps it through the cache), and only theirs', async () => {
    const cacheDirectory = join(folder, 'heads-cache')
    const options = { site: 'attn_heads', selector: 'last', layers, cacheDirectory } as const
    const captured = await captureActivations(model, examples, options)
    expect(captured.heads).toBe(model.config.heads)
    expect(captured.width).toBe(model.config.heads * model.config.headDim)
    expect(await captureActivations(model, examples, options)).toEqual(captured)
    const residual = await captureActivations(model, examples, { ...options, site, cacheDirectory: false })
    expect(residual.heads).toBeUndefined()
  })

  it('runs a hooks-only graph: nothing after the deepest hook, same values as the full hooked graph', async () => {
    const hooksOnly = async (hookLayers: number[]) => {
      const compiled = await compileGraph(folder, {
        edits: [],
        hooks: hookLayers.map((layer) => ({ layer, site })),
        hooksOnly: true,
      })
      return (await loadGraph(compiled.graphPath)).model.graph
    }
    const full = (await loadGraph(single.graphPath)).model.graph
    const first = await hooksOnly([0])
    const second = await hooksOnly([1])
    expect(first.output.map((output) => output.name)).toEqual([hookOutputName(site, 0)])
    // Every layer after the hook, the output head and the cache outputs are gone; the inputs stay declared.
    expect(first.node.length).toBeLessThan(second.node.length)
    expect(second.node.length).toBeLessThan(full.node.length)
    expect(first.input.map((input) => input.name)).toEqual(full.input.map((input) => input.name))
    const set = await captureActivations(model, examples, {
      site,
      selector: 'promptTokens',
      layers: [1],
      cacheDirectory: false,
    })
    const example = examples[0] as RenderedExample
    const row = example.positive
    const paired = Math.min(
      example.positive.prompt.end - example.positive.prompt.start,
      example.negative.prompt.end - example.negative.prompt.start,
    )
    const run = await forwardBatch(single, [row.tokenIds], { fetch: [hookOutputName(site, 1)] })
    const values = run.outputs[hookOutputName(site, 1)]?.data as Float32Array
    const captured = set.positive[0]
    if (captured === undefined) throw new Error('the capture holds no layer')
    const expected = expectedRows('promptTokens', row, values, set.width, paired)
    expected.forEach((vector, offset) =>
      expect(
        maxDifference(captured.subarray(offset * set.width, (offset + 1) * set.width), vector),
      ).toBeLessThanOrEqual(tolerance),
    )
  })

  it('names the example when a selector has nothing to read', async () => {
    const broken: RenderedExample = {
      id: 'no-letter',
      lines: [9],
      positive: side([1, 5], [6]),
      negative: side([1, 5], [7]),
    }
    await expect(
      captureActivations(model, [broken], { site, selector: 'answerLetter', layers, cacheDirectory: false }),
    ).rejects.toThrow(/no-letter/)
  })
})
