import { readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import onnxProto from 'onnx-proto'
import * as ort from 'onnxruntime-node'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { isTillerError } from '../../src/main/core/errors.ts'
import { decodeFeeds, layoutRows, prefillFeeds } from '../../src/main/core/runtime/feeds.ts'
import { forwardBatch } from '../../src/main/core/runtime/forward.ts'
import { generate } from '../../src/main/core/runtime/generate.ts'
import { emptyCache } from '../../src/main/core/runtime/graph-io.ts'
import { halvesToFloats } from '../../src/shared/float16.ts'
import { loadModel, replaceGraph, type LoadedModel } from '../../src/main/core/runtime/model.ts'
import { fedPosition, type StepContext } from '../../src/main/core/runtime/step-context.ts'
import { copiedFolder, genaiFixture, requireFixture } from './fixtures.ts'

const { onnx } = onnxProto
const vocab = 32000
let model: LoadedModel

beforeAll(async () => {
  model = await loadModel(requireFixture(genaiFixture), { provider: 'cpu' })
})

afterAll(async () => {
  await model.dispose()
})

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise
  } catch (error) {
    return error
  }
  throw new Error('expected a rejection')
}

/** Run the session directly: one step with the given feeds plus a past cache; returns every output. */
async function runStep(
  feeds: Record<string, ort.Tensor>,
  past: ort.Tensor[],
): Promise<Record<string, ort.Tensor>> {
  model.cache.pastNames.forEach((name, index) => {
    feeds[name] = past[index] as ort.Tensor
  })
  return model.session.run(feeds)
}

describe('loadModel on the genai fp16 fixture', () => {
  it('reads configuration, cache layout and graph family', () => {
    expect(model.config.source).toBe('genai_config.json')
    expect(model.config.maxPositionEmbeddings).toBe(2048)
    expect(model.config.eosTokenIds).toEqual([1])
    expect(model.cache).toMatchObject({ dtype: 'float16', layers: 2, kvHeads: 1, headDim: 16 })
    expect(model.graph.hasPositionIds).toBe(true)
    expect(model.info).toMatchObject({ graphFamily: 'builder', layers: 2, hiddenSize: 16, vocabSize: vocab })
    expect(model.provider).toBe('cpu')
    expect(model.tokenizer.encode('Once upon a time')[0]).toBe(1)
  })

  it('a second graph of the folder can reuse the loaded tokenizer and gives the same logits', async () => {
    const second = await loadModel(model.folder, { provider: 'cpu', tokenizer: model.tokenizer })
    try {
      expect(second.tokenizer).toBe(model.tokenizer)
      const rows = [[1, 5, 6, 7]]
      const expected = (await forwardBatch(model, rows, { fetch: ['logits'] })).outputs.logits?.data
      const actual = (await forwardBatch(second, rows, { fetch: ['logits'] })).outputs.logits?.data
      expect(Array.from(actual as ArrayLike<number>)).toEqual(Array.from(expected as ArrayLike<number>))
    } finally {
      await second.dispose()
    }
  })

  it('round-trips the fp16 cache: decode steps keep the past bits and match a full forward pass', async () => {
    const prompt = model.tokenizer.encode('The quick brown fox')
    const layout = layoutRows([prompt])
    const prefill = await runStep(prefillFeeds(layout, [prompt], 2, model.graph), emptyCache(model.cache, 1))
    let past = model.cache.presentNames.map((name) => prefill[name] as ort.Tensor)
    const fed = [...prompt]
    const decodeLogits: Float32Array[] = []
    let next = 306
    for (let step = 0; step < 4; step++) {
      fed.push(next)
      const outputs = await runStep(decodeFeeds(layout, [next], fed.length - 1, model.graph), past)
      const present = model.cache.presentNames.map((name) => outputs[name] as ort.Tensor)
      for (const [index, tensor] of present.entries()) {
        const previous = past[index] as ort.Tensor
        expect(tensor.type).toBe('float16')
        expect(tensor.dims).toEqual([1, 1, fed.length, 16])
        // The first past-length positions are the previous cache, bit for bit.
        expect(Array.from((tensor.data as Uint16Array).subarray(0, previous.size))).toEqual(
          Array.from(previous.data as Uint16Array),
        )
      }
      past = present
      decodeLogits.push(halvesToFloats(outputs['logits']?.data as Uint16Array))
      next = 1000 + step * 77
    }
    const full = await forwardBatch(model, [fed], { fetch: ['logits'] })
    expect(Object.keys(full.outputs)).toEqual(['logits'])
    const all = halvesToFloats(full.outputs['logits']?.data as Uint16Array)
    for (const [step, logits] of decodeLogits.entries()) {
      const position = prompt.length + step
      const reference = all.subarray(position * vocab, (position + 1) * vocab)
      let worst = 0
      for (let index = 0; index < vocab; index++) {
        worst = Math.max(worst, Math.abs((logits[index] as number) - (reference[index] as number)))
      }
      // fp16 logits (|logit| < 1 here) carry ~5e-4 of rounding; summation order differs between the two paths.
      expect(worst).toBeLessThan(2e-3)
    }
  })

  it('forwardBatch pads on the left and each row matches its own pass', async () => {
    const rows = [model.tokenizer.encode('A long prompt with several words'), model.tokenizer.encode('Short')]
    const batch = await forwardBatch(model, rows, { fetch: ['logits'] })
    const width = Math.max(...rows.map((row) => row.length))
    expect(batch.sequence).toBe(width)
    expect(batch.leftPadding).toEqual(rows.map((row) => width - row.length))
    const batchLogits = halvesToFloats(batch.outputs['logits']?.data as Uint16Array)
    for (const [row, tokens] of rows.entries()) {
      const single = await forwardBatch(model, [tokens], { fetch: ['logits'] })
      const singleLogits = halvesToFloats(single.outputs['logits']?.data as Uint16Array)
      for (let position = 0; position < tokens.length; position++) {
        const column = (batch.leftPadding[row] as number) + position
        const offset = (row * width + column) * vocab
        let worst = 0
        for (let index = 0; index < vocab; index++) {
          const difference =
            (batchLogits[offset + index] as number) - (singleLogits[position * vocab + index] as number)
          worst = Math.max(worst, Math.abs(difference))
        }
        expect(worst).toBeLessThan(2e-3)
      }
    }
    const error = await rejection(forwardBatch(model, rows, { fetch: ['hidden_states'] }))
    expect(isTillerError(error, 'invalid-argument')).toBe(true)
    expect((error as Error).message).toContain('hidden_states')
  })
})

describe('graphs with extra inputs', () => {
  let steered: { folder: string; cleanup(): void }

  beforeAll(() => {
    // A graph with an additional (unused) per-row input, standing in for a compiled steered graph.
    steered = copiedFolder(genaiFixture)
    const proto = onnx.ModelProto.decode(readFileSync(join(genaiFixture, 'model.onnx')))
    const shape = { dim: [{ dimParam: 'batch_size' }] }
    proto.graph?.input?.push(
      onnx.ValueInfoProto.create({ name: 'tiller_strength', type: { tensorType: { elemType: 1, shape } } }),
    )
    writeFileSync(join(steered.folder, 'steered.onnx'), onnx.ModelProto.encode(proto).finish())
  })

  afterAll(() => steered.cleanup())

  it('asks for missing inputs by name and hands callers a step context', async () => {
    const swapped = await loadModel(steered.folder, { provider: 'cpu' })
    try {
      const rows = [model.tokenizer.encode('One two three four'), model.tokenizer.encode('Five')]
      const plain = await generate(swapped, { rows, options: { maxTokens: 4 } })
      await replaceGraph(swapped, 'steered.onnx')
      expect(swapped.graph.extraInputNames).toEqual(['tiller_strength'])
      const error = await rejection(generate(swapped, { rows, options: { maxTokens: 4 } }))
      expect(isTillerError(error, 'invalid-argument')).toBe(true)
      expect((error as Error).message).toContain('tiller_strength')

      const contexts: StepContext[] = []
      const results = await generate(swapped, {
        rows,
        options: { maxTokens: 4 },
        extraInputs: (context) => {
          contexts.push(structuredClone(context))
          return {
            tiller_strength: new ort.Tensor('float32', new Float32Array(context.batch), [context.batch]),
          }
        },
      })
      expect(results.map((result) => result.generated)).toEqual(plain.map((result) => result.generated))
      const width = rows[0]?.length as number
      const padding = width - (rows[1]?.length as number)
      expect(contexts).toHaveLength(4)
      expect(contexts[0]).toEqual({
        step: 0,
        batch: 2,
        sequence: width,
        pastLength: 0,
        leftPadding: [0, padding],
        promptLengths: [width, width - padding],
        isPrefill: true,
      })
      expect(contexts[3]).toMatchObject({ step: 3, sequence: 1, pastLength: width + 2, isPrefill: false })
      const prefill = contexts[0] as StepContext
      expect(fedPosition(prefill, 1, 0)).toEqual({ kind: 'padding' })
      expect(fedPosition(prefill, 1, padding)).toEqual({ kind: 'prompt', index: 0 })
      expect(fedPosition(prefill, 0, width - 1)).toEqual({ kind: 'prompt', index: width - 1 })
      expect(fedPosition(contexts[3] as StepContext, 1, 0)).toEqual({ kind: 'generated', index: 2 })
    } finally {
      await swapped.dispose()
    }
  })
})

describe('bad input', () => {
  it('a folder without a tokenizer names the missing file', async () => {
    const broken = copiedFolder(genaiFixture, ['tokenizer.json'])
    try {
      const error = await rejection(loadModel(broken.folder, { provider: 'cpu' }))
      expect(isTillerError(error, 'missing-tokenizer')).toBe(true)
      expect((error as Error).message).toContain(join(broken.folder, 'tokenizer.json'))
    } finally {
      broken.cleanup()
    }
  })

  it('a folder without configuration or graph says what is missing', async () => {
    const noConfig = copiedFolder(genaiFixture, ['genai_config.json'])
    const noGraph = copiedFolder(genaiFixture, ['model.onnx'])
    try {
      const configError = await rejection(loadModel(noConfig.folder))
      expect(isTillerError(configError, 'invalid-model-folder')).toBe(true)
      expect((configError as Error).message).toContain('config.json')
      const graphError = await rejection(loadModel(noGraph.folder))
      expect(isTillerError(graphError, 'invalid-model-folder')).toBe(true)
      expect((graphError as Error).message).toContain('model.onnx')
      rmSync(join(noGraph.folder, 'tokenizer_config.json'))
      expect(isTillerError(await rejection(loadModel(noGraph.folder)), 'missing-tokenizer')).toBe(true)
      expect(
        isTillerError(await rejection(loadModel(join(noGraph.folder, 'absent'))), 'file-not-found'),
      ).toBe(true)
    } finally {
      noConfig.cleanup()
      noGraph.cleanup()
    }
  })

  it('rejects empty rows, over-long requests, foreign ids and bad options with typed errors', async () => {
    const prompt = model.tokenizer.encode('Hello')
    const empty = await rejection(generate(model, { rows: [prompt, []], options: { maxTokens: 2 } }))
    expect(isTillerError(empty, 'empty-prompt')).toBe(true)
    expect((empty as Error).message).toContain('rows[1]')
    const long = await rejection(generate(model, { rows: [prompt], options: { maxTokens: 2047 } }))
    expect(isTillerError(long, 'prompt-too-long')).toBe(true)
    expect((long as Error).message).toContain('2048')
    const foreign = await rejection(generate(model, { rows: [[1, vocab]], options: { maxTokens: 2 } }))
    expect(isTillerError(foreign, 'invalid-argument')).toBe(true)
    expect((foreign as Error).message).toContain('rows[0][1]')
    for (const options of [{ maxTokens: 0 }, { maxTokens: 2, temperature: -1 }, { maxTokens: 2, topP: 0 }]) {
      const error = await rejection(generate(model, { rows: [prompt], options }))
      expect(isTillerError(error, 'invalid-argument')).toBe(true)
      expect((error as Error).message).toMatch(/options\.(maxTokens|temperature|topP)/)
    }
  })
})
