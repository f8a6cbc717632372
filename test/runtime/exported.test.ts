import { rmSync } from 'node:fs'
import { dirname } from 'node:path'
import { AutoModelForCausalLM, Tensor } from '@huggingface/transformers'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { ExportDType } from '../../src/main/core/models/exporter/index.ts'
import type { GraphFamily } from '../../src/main/core/models/graph-contract.ts'
import { forwardBatch } from '../../src/main/core/runtime/forward.ts'
import { generate } from '../../src/main/core/runtime/generate.ts'
import { logitsAsFloat32 } from '../../src/main/core/runtime/logits.ts'
import { loadModel, type LoadedModel } from '../../src/main/core/runtime/model.ts'
import { renderPrompt } from '../../src/main/core/runtime/prompt.ts'
import { configureOfflineTransformers } from '../../src/main/core/runtime/offline-transformers.ts'
import { argmaxRow, referenceGreedy } from '../helpers/reference-llama.ts'
import { buildTinyModel, tinyCheckpoint } from '../helpers/tiny-models.ts'

// Tiny random models from the exporter, in both graph families and both dtypes: the runtime must treat them alike.
const variants: { family: GraphFamily; dtype: ExportDType }[] = [
  { family: 'builder', dtype: 'float32' },
  { family: 'optimum', dtype: 'float32' },
  { family: 'builder', dtype: 'float16' },
  { family: 'optimum', dtype: 'float16' },
]

describe.each(variants)('a tiny $family $dtype export', ({ family, dtype }) => {
  let folder: string
  let model: LoadedModel
  let rows: number[][]

  beforeAll(async () => {
    folder = await buildTinyModel({ family, dtype })
    model = await loadModel(folder, { provider: 'cpu' })
    rows = ['Hello there, tiny model', 'abc', 'A longer prompt, to pad the others'].map((text) =>
      model.tokenizer.encode(text),
    )
  })

  afterAll(async () => {
    await model.dispose()
    rmSync(dirname(folder), { recursive: true, force: true })
  })

  it('loads with the cache dtype and family of the export', () => {
    expect(model.cache.dtype).toBe(dtype)
    expect(model.info.graphFamily).toBe(family)
    expect(model.graphPath.endsWith(dtype === 'float16' ? 'model_fp16.onnx' : 'model.onnx')).toBe(true)
  })

  it('decodes with the cache exactly as a full forward pass ranks the tokens', async () => {
    const [result] = await generate(model, {
      rows: [rows[0] as number[]],
      options: { maxTokens: 10, eosTokenIds: [] },
    })
    const tokens = result?.tokens ?? []
    const { outputs } = await forwardBatch(model, [tokens.slice(0, -1)], { fetch: ['logits'] })
    const tensor = outputs['logits']
    if (tensor === undefined) throw new Error('forwardBatch returned no logits')
    const logits = logitsAsFloat32(tensor)
    const prompt = (rows[0] as number[]).length
    for (let step = 0; step < 10; step++) {
      expect(argmaxRow(logits, model.config.vocabSize, prompt - 1 + step)).toBe(tokens[prompt + step])
    }
    if (dtype === 'float32') {
      // And as the plain Float32Array reference forward pass does.
      expect(result?.generated).toEqual(referenceGreedy(tinyCheckpoint({}), rows[0] as number[], 10))
    }
  })

  it('batches left-padded rows exactly like one-row runs, greedy and sampled', async () => {
    for (const options of [
      { maxTokens: 8, eosTokenIds: [] },
      { maxTokens: 8, eosTokenIds: [], temperature: 0.9, topK: 20, topP: 0.95, seed: 5 },
    ]) {
      const batched = await generate(model, { rows, options })
      for (const [row, prompt] of rows.entries()) {
        const [single] = await generate(model, { rows: [prompt], options })
        expect(batched[row]?.generated).toEqual(single?.generated)
      }
    }
  })

  it('renders a chat prompt with the exported template', () => {
    const rendered = renderPrompt(model.tokenizer, 'Hi', { chat: true, maxTokens: 4, contextLength: 128 })
    expect(rendered.usedChatTemplate).toBe(true)
    expect(rendered.text).toContain('Hi')
    expect(rendered.ids.length).toBeGreaterThan(
      model.tokenizer.encode('Hi', { add_special_tokens: false }).length,
    )
  })

  it('gives the same greedy tokens as Transformers.js generate()', async () => {
    configureOfflineTransformers()
    const transformers = await AutoModelForCausalLM.from_pretrained(folder, { device: 'cpu' })
    try {
      const prompt = rows[2] as number[]
      const [ours] = await generate(model, { rows: [prompt], options: { maxTokens: 12 } })
      const output = await transformers.generate({
        input_ids: new Tensor('int64', BigInt64Array.from(prompt, BigInt), [1, prompt.length]),
        attention_mask: new Tensor('int64', new BigInt64Array(prompt.length).fill(1n), [1, prompt.length]),
        max_new_tokens: 12,
        do_sample: false,
      } as Parameters<typeof transformers.generate>[0])
      expect((output as { tolist(): bigint[][] }).tolist()[0]?.map(Number)).toEqual(ours?.tokens)
    } finally {
      await transformers.dispose()
    }
  })
})
