import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

import { AutoTokenizer, env } from '@huggingface/transformers'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'

import { importGguf } from '../../src/main/core/models/importers/gguf/import-gguf.ts'
import { readStoriesGolden, requireFixture, storiesGgufPath } from './helpers/fixtures.ts'

type LoadedTokenizer = Awaited<ReturnType<typeof AutoTokenizer.from_pretrained>>

describe('GGUF tokenizer conversion (stories260K)', () => {
  let folder = ''
  let tokenizer: LoadedTokenizer
  let tokenizerJson: Record<string, unknown>
  let tokenizerConfig: Record<string, unknown>

  beforeAll(async () => {
    const imported = await importGguf(requireFixture(storiesGgufPath))
    tokenizerJson = imported.tokenizer.tokenizerJson
    tokenizerConfig = imported.tokenizer.tokenizerConfig
    folder = await mkdtemp(join(tmpdir(), 'tiller-gguf-tokenizer-'))
    await writeFile(join(folder, 'tokenizer.json'), JSON.stringify(tokenizerJson))
    await writeFile(join(folder, 'tokenizer_config.json'), JSON.stringify(tokenizerConfig))
    env.allowRemoteModels = false
    env.useFSCache = false
    tokenizer = await AutoTokenizer.from_pretrained(folder)
  })

  afterAll(async () => {
    if (folder !== '') await rm(folder, { recursive: true, force: true })
  })

  it('reproduces every encode_examples entry of GOLDEN.json, BOS included', () => {
    const examples = Object.entries(readStoriesGolden().encode_examples)
    expect(examples.length).toBeGreaterThanOrEqual(5)
    for (const [text, expected] of examples) {
      expect({ text, ids: tokenizer.encode(text) }).toEqual({ text, ids: expected })
    }
  })

  it('decodes the golden ids back to the text, byte fallback included', () => {
    for (const [text, ids] of Object.entries(readStoriesGolden().encode_examples)) {
      expect(tokenizer.decode(ids, { skip_special_tokens: true })).toBe(text)
    }
  })

  it('reproduces the prompt tokens of every generation case', () => {
    for (const goldenCase of readStoriesGolden().cases) {
      if (goldenCase.prompt === '') continue
      expect(tokenizer.encode(goldenCase.prompt)).toEqual(goldenCase.prompt_tokens)
    }
  })

  it('writes the Llama tokenizer layout: BPE with byte fallback, special tokens, LlamaTokenizer config', () => {
    const model = tokenizerJson['model'] as Record<string, unknown>
    expect(model['type']).toBe('BPE')
    expect(model['byte_fallback']).toBe(true)
    expect(Object.keys(model['vocab'] as object)).toHaveLength(512)
    const addedTokens = tokenizerJson['added_tokens'] as { id: number; content: string; special: boolean }[]
    expect(addedTokens.map(({ id, content, special }) => [id, content, special])).toEqual([
      [0, '<unk>', true],
      [1, '<s>', true],
      [2, '</s>', true],
    ])
    expect(tokenizerConfig).toMatchObject({
      bos_token: '<s>',
      eos_token: '</s>',
      unk_token: '<unk>',
      add_bos_token: true,
      tokenizer_class: 'LlamaTokenizer',
      model_max_length: 2048,
    })
    expect(tokenizerConfig).not.toHaveProperty('chat_template')
  })
})
