import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

import { GGMLQuantizationType } from '@huggingface/gguf'
import { AutoTokenizer, env } from '@huggingface/transformers'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'

import { halfToFloat, floatToHalf } from '../../src/shared/float16.ts'
import { writeGgufFile } from '../../src/main/core/gguf/writer.ts'
import type { LlamaCheckpoint } from '../../src/main/core/models/checkpoint.ts'
import { importGguf } from '../../src/main/core/models/importers/gguf/import-gguf.ts'
import type { GgufImport } from '../../src/main/core/models/importers/gguf/import-gguf.ts'
import { checkpointToGguf, randomCheckpoint, tinyConfig, tinyVocabulary } from './helpers/gguf-model.ts'
import { referenceForward } from '../helpers/reference-llama.ts'
import { referenceEncode } from './helpers/sentencepiece-reference.ts'

const prompt = [1, 259, 262, 270, 5, 290, 300 - 1, 42]

function values(checkpoint: LlamaCheckpoint, name: string): Float32Array {
  const data = checkpoint.weights.get(name)?.data
  if (data === undefined) throw new Error(`missing ${name}`)
  return data instanceof Float32Array ? data : Float32Array.from(data, halfToFloat)
}

/** Largest absolute difference between two logit arrays `[seq, vocab]`. */
function largestLogitGap(first: Float32Array, second: Float32Array): number {
  return first.reduce((worst, value, index) => Math.max(worst, Math.abs(value - (second[index] ?? NaN))), 0)
}

describe('GGUF import of models written by the Tiller GGUF writer', () => {
  let folder = ''
  const original = randomCheckpoint(tinyConfig, 3)
  const reference = referenceForward(original, prompt)
  const logitScale = reference.reduce((maximum, value) => Math.max(maximum, Math.abs(value)), 0)
  // How far an unrelated model's logits are: quantized imports must stay much closer than this.
  const unrelatedGap = largestLogitGap(referenceForward(randomCheckpoint(tinyConfig, 4), prompt), reference)

  async function roundTrip(
    name: string,
    options: Parameters<typeof checkpointToGguf>[1],
  ): Promise<GgufImport> {
    const path = join(folder, `${name}.gguf`)
    await writeGgufFile(path, checkpointToGguf(original, options))
    return importGguf(path)
  }

  beforeAll(async () => {
    folder = await mkdtemp(join(tmpdir(), 'tiller-gguf-import-'))
  })
  afterAll(async () => {
    if (folder !== '') await rm(folder, { recursive: true, force: true })
  })

  it('F32: restores the checkpoint exactly (config, names, shapes, rotate_half q/k rows)', async () => {
    const imported = await roundTrip('f32', { matrixType: GGMLQuantizationType.F32 })
    expect(imported.checkpoint.config).toEqual(tinyConfig)
    expect([...imported.checkpoint.weights.keys()].sort()).toEqual([...original.weights.keys()].sort())
    for (const [name, weight] of original.weights) {
      expect({ name, shape: imported.checkpoint.weights.get(name)?.shape }).toEqual({
        name,
        shape: weight.shape,
      })
      expect(values(imported.checkpoint, name)).toEqual(weight.data)
    }
    expect(largestLogitGap(referenceForward(imported.checkpoint, prompt), reference)).toBeLessThan(1e-5)
    expect(imported.source).toMatchObject({ tensorTypes: { F32: 21 }, classifier: 'separate output.weight' })
  })

  it('F16: keeps float16 matrices losslessly (the nearest halves of the original values)', async () => {
    const imported = await roundTrip('f16', { matrixType: GGMLQuantizationType.F16 })
    const query = imported.checkpoint.weights.get('model.layers.1.self_attn.q_proj.weight')
    expect(query?.dtype).toBe('float16')
    for (const [name, weight] of original.weights) {
      const expected = Array.from(weight.data, (value) =>
        weight.shape.length === 1 ? value : halfToFloat(floatToHalf(value)),
      )
      expect({
        name,
        equal: Array.from(values(imported.checkpoint, name)).every((v, i) => v === expected[i]),
      }).toEqual({
        name,
        equal: true,
      })
    }
    expect(largestLogitGap(referenceForward(imported.checkpoint, prompt), reference)).toBeLessThan(
      2e-3 * logitScale,
    )
  })

  it('BF16: dequantizes bfloat16 matrices to the exact float32 values they hold', async () => {
    const bfloat16 = (data: Float32Array): Uint16Array =>
      new Uint16Array(Uint32Array.from(new Uint32Array(data.buffer.slice(0)), (bits) => bits >>> 16))
    const content = checkpointToGguf(original)
    const tensors = Object.fromEntries(
      content.tensors.map((tensor) => [
        tensor.name,
        tensor.shape.length === 1 || !(tensor.data instanceof Float32Array)
          ? tensor
          : { ...tensor, type: GGMLQuantizationType.BF16, data: bfloat16(tensor.data) },
      ]),
    )
    const imported = await roundTrip('bf16', { tensors })
    const embedding = values(original, 'model.embed_tokens.weight')
    const truncated = new Float32Array(
      new Uint32Array(new Uint32Array(embedding.buffer.slice(0)).map((bits) => bits & 0xffff0000)).buffer,
    )
    expect(values(imported.checkpoint, 'model.embed_tokens.weight')).toEqual(truncated)
    expect(imported.source.tensorTypes).toEqual({ BF16: 16, F32: 5 })
  })

  // Block scale d = largest magnitude / levels; rounding costs up to `steps` * d (Q4_0 clamps +8d to 7d), and the
  // float16 rounding of d up to 2^-11 * d on each of up to `levels` steps.
  for (const [label, type, levels, steps, logitTolerance] of [
    ['Q8_0', GGMLQuantizationType.Q8_0, 127, 0.5, 0.05],
    ['Q4_0', GGMLQuantizationType.Q4_0, 8, 1, 0.5],
  ] as const) {
    it(`${label}: dequantizes every matrix within its quantization error`, async () => {
      const imported = await roundTrip(label, { matrixType: type })
      expect(imported.checkpoint.config).toEqual(tinyConfig)
      expect(imported.source.dequantized).toBe(true)
      for (const [name, weight] of original.weights) {
        const restored = values(imported.checkpoint, name)
        const source = weight.data as Float32Array
        const largest = source.reduce((maximum, value) => Math.max(maximum, Math.abs(value)), 0)
        const bound = weight.shape.length === 1 ? 0 : (largest / levels) * (steps + levels * 2 ** -11) + 1e-7
        const worst = source.reduce(
          (maximum, value, index) => Math.max(maximum, Math.abs(value - (restored[index] ?? NaN))),
          0,
        )
        expect({ name, withinBound: worst <= bound }).toEqual({ name, withinBound: true })
        if (weight.shape.length > 1) expect(worst).toBeGreaterThan(0)
      }
      const gap = largestLogitGap(referenceForward(imported.checkpoint, prompt), reference)
      expect(gap).toBeGreaterThan(0)
      expect(gap).toBeLessThan(logitTolerance * unrelatedGap)
    })
  }

  it('ties the classifier when output.weight is absent', async () => {
    const imported = await roundTrip('tied', { tensors: { 'output.weight': undefined } })
    expect(imported.checkpoint.config.tieWordEmbeddings).toBe(true)
    expect(imported.checkpoint.weights.has('lm_head.weight')).toBe(false)
    expect(imported.source.classifier).toBe('tied: output.weight absent')
  })

  it('refuses a chat template that runs away or raises, naming the GGUF', async () => {
    const runaway = '{% for i in range(100000000) %}x{% endfor %}'
    await expect(
      roundTrip('runaway-template', {
        metadata: { 'tokenizer.chat_template': { type: 'string', value: runaway } },
      }),
    ).rejects.toThrow(
      `The chat template in ${join(folder, 'runaway-template.gguf')} (tokenizer.chat_template) was stopped: ` +
        'it asked for range() of 100000000 items',
    )
    const raising = "{{ raise_exception('System role not supported') }}"
    await expect(
      roundTrip('raising-template', {
        metadata: { 'tokenizer.chat_template': { type: 'string', value: raising } },
      }),
    ).rejects.toMatchObject({
      code: 'invalid-chat-template',
      subject: `${join(folder, 'raising-template.gguf')} (tokenizer.chat_template)`,
    })
  })

  it('converts the tokenizer: run.c-style BPE results, control tokens, chat template, no-BOS option', async () => {
    const template = "{% for message in messages %}{{ message['content'] }}{% endfor %}"
    const imported = await roundTrip('tokenizer', {
      metadata: {
        'tokenizer.chat_template': { type: 'string', value: template },
        'tokenizer.ggml.padding_token_id': { type: 'uint32', value: 0 },
      },
    })
    expect(imported.tokenizer.tokenizerConfig).toMatchObject({ chat_template: template, pad_token: '<unk>' })
    expect(imported.checkpoint.config.padTokenId).toBe(0)
    const tokenizerFolder = join(folder, 'tokenizer')
    await rm(tokenizerFolder, { recursive: true, force: true })
    await import('node:fs/promises').then(({ mkdir }) => mkdir(tokenizerFolder))
    await writeFile(join(tokenizerFolder, 'tokenizer.json'), JSON.stringify(imported.tokenizer.tokenizerJson))
    await writeFile(
      join(tokenizerFolder, 'tokenizer_config.json'),
      JSON.stringify(imported.tokenizer.tokenizerConfig),
    )
    env.allowRemoteModels = false
    env.useFSCache = false
    const tokenizer = await AutoTokenizer.from_pretrained(tokenizerFolder)
    const { tokens, scores } = tinyVocabulary(tinyConfig.vocabSize)
    for (const text of ['the wheat', 'a  then', 'Zebra, then.', 'bathe in the sea', '€!', '']) {
      expect({ text, ids: tokenizer.encode(text) }).toEqual({
        text,
        ids: referenceEncode(text, tokens, scores, 1),
      })
      expect(tokenizer.decode(tokenizer.encode(text), { skip_special_tokens: true })).toBe(text)
    }
    expect(tokenizer.encode('<s>the</s>')).toEqual([1, 1, 262, 2])

    const withoutBos = await roundTrip('no-bos', {
      metadata: { 'tokenizer.ggml.add_bos_token': { type: 'bool', value: false } },
    })
    expect(withoutBos.tokenizer.tokenizerConfig['add_bos_token']).toBe(false)
    expect(withoutBos.tokenizer.tokenizerJson['post_processor']).toMatchObject({
      single: [{ Sequence: { id: 'A' } }],
    })
  })
})
