import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { AutoTokenizer, env } from '@huggingface/transformers'
import { afterAll, describe, expect, it } from 'vitest'
import {
  byteTokenizerFiles,
  byteTokenizerMinimumVocab,
  byteTokenizerSpecialIds,
} from '../../src/main/core/models/byte-tokenizer.ts'

const directories: string[] = []
afterAll(() => {
  for (const directory of directories) rmSync(directory, { recursive: true, force: true })
})

async function loadTokenizer(
  vocabSize: number,
): Promise<Awaited<ReturnType<typeof AutoTokenizer.from_pretrained>>> {
  const directory = mkdtempSync(join(tmpdir(), 'tiller-tokenizer-'))
  directories.push(directory)
  const files = byteTokenizerFiles(vocabSize)
  writeFileSync(join(directory, 'tokenizer.json'), JSON.stringify(files.tokenizerJson))
  writeFileSync(join(directory, 'tokenizer_config.json'), JSON.stringify(files.tokenizerConfig))
  env.allowRemoteModels = false
  return AutoTokenizer.from_pretrained(directory)
}

const text = 'Once upon a time, Lily said "héllo 🌍"\n\tand left.'

describe('byteTokenizerFiles', () => {
  for (const vocabSize of [byteTokenizerMinimumVocab, 512, 4096]) {
    it(`loads in Transformers.js and round-trips any text with ids below ${vocabSize}`, async () => {
      const tokenizer = await loadTokenizer(vocabSize)
      const ids = tokenizer.encode(text)
      expect(ids[0]).toBe(byteTokenizerSpecialIds.bos)
      expect(Math.max(...ids)).toBeLessThan(vocabSize)
      expect(tokenizer.decode(ids, { skip_special_tokens: true })).toBe(text)
      const vocabulary = (
        byteTokenizerFiles(vocabSize).tokenizerJson.model as { vocab: Record<string, number> }
      ).vocab
      const sortedIds = Object.values(vocabulary).sort((a, b) => a - b)
      expect(sortedIds).toEqual(Array.from({ length: vocabSize }, (_, index) => index))
    })
  }

  it('uses merges when the vocabulary allows (fewer tokens than bytes)', async () => {
    const tokenizer = await loadTokenizer(512)
    expect(tokenizer.encode('Once upon a time there was a little girl').length).toBeLessThan(30)
  })

  it('renders the chat template with role tokens and eos after each turn', async () => {
    const tokenizer = await loadTokenizer(512)
    const messages = [
      { role: 'system', content: 'Be brief.' },
      { role: 'user', content: 'Hi' },
    ]
    const rendered = tokenizer.apply_chat_template(messages, { add_generation_prompt: true, tokenize: false })
    expect(rendered).toBe('<s><|system|>\nBe brief.</s>\n<|user|>\nHi</s>\n<|assistant|>\n')
    const ids = tokenizer.apply_chat_template(messages, {
      add_generation_prompt: true,
      return_dict: false,
      return_tensor: false,
    })
    expect(ids).toContain(byteTokenizerSpecialIds.user)
    expect(ids).toContain(byteTokenizerSpecialIds.assistant)
    expect((ids as number[]).filter((id) => id === byteTokenizerSpecialIds.bos)).toHaveLength(1)
  })

  it('refuses a vocabulary too small for all bytes', () => {
    expect(() => byteTokenizerFiles(200)).toThrow(/at least 262/)
  })
})
