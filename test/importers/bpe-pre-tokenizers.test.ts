import { PreTrainedTokenizer } from '@huggingface/transformers'
import { describe, expect, it } from 'vitest'

import {
  bytePairPreTokenizer,
  supportedPreTokenizerTypes,
} from '../../src/main/core/models/importers/bpe-pre-tokenizers.ts'
import { buildBytePairTokenizerFiles } from '../../src/main/core/models/importers/byte-level-bpe-tokenizer.ts'
import type { BytePairVocabulary } from '../../src/main/core/models/importers/byte-level-bpe-tokenizer.ts'
import { tokenizerCorpus } from './helpers/tokenizer-corpus.ts'

/** GPT-2's byte-to-character table: printable Latin-1 bytes stand for themselves, the rest map from U+0100 up. */
function byteCharacters(): string[] {
  const printable = (byte: number) =>
    (byte >= 0x21 && byte <= 0x7e) || (byte >= 0xa1 && byte <= 0xac) || (byte >= 0xae && byte <= 0xff)
  let next = 256
  return Array.from({ length: 256 }, (_, byte) => String.fromCodePoint(printable(byte) ? byte : next++))
}

const characters = byteCharacters()
const bytesOf = new Map(characters.map((character, byte) => [character, byte]))

/** A vocabulary of the 256 byte tokens, no merges, and one control token: every text encodes byte by byte. */
function byteVocabulary(preType: string): BytePairVocabulary {
  const preTokenizer = bytePairPreTokenizer(preType)
  if (preTokenizer === undefined) throw new Error(`no pre-tokenizer ${preType}`)
  return {
    tokens: [...characters, '<|end|>'],
    roles: [...characters.map(() => 'normal' as const), 'control'],
    merges: [],
    preType,
    preTokenizer,
    bosId: 256,
    eosId: 256,
    padId: undefined,
    unknownId: undefined,
    addBos: false,
    addEos: true,
    modelMaxLength: 4096,
    chatTemplate: undefined,
  }
}

function tokenizerFor(preType: string): PreTrainedTokenizer {
  const { tokenizerJson, tokenizerConfig } = buildBytePairTokenizerFiles(byteVocabulary(preType))
  return new PreTrainedTokenizer(tokenizerJson, tokenizerConfig)
}

/** The pieces the pre-tokenizer splits `text` into, as text (its ByteLevel characters mapped back to bytes). */
function pieces(tokenizer: PreTrainedTokenizer, text: string): string[] {
  const inner = (tokenizer as unknown as { _tokenizer: { pre_tokenizer: (text: string) => string[] } })
    ._tokenizer
  return inner
    .pre_tokenizer(text)
    .map((piece) =>
      new TextDecoder().decode(Uint8Array.from([...piece], (character) => bytesOf.get(character) ?? 0)),
    )
}

describe('byte-level BPE pre-tokenizers by tokenizer.ggml.pre', () => {
  it('every supported type builds a tokenizer that encodes the corpus byte for byte and decodes it back', () => {
    expect(supportedPreTokenizerTypes.length).toBeGreaterThanOrEqual(30)
    for (const preType of supportedPreTokenizerTypes) {
      const tokenizer = tokenizerFor(preType)
      for (const text of tokenizerCorpus) {
        const normalized =
          bytePairPreTokenizer(preType)?.normalization === 'NFC' ? text.normalize('NFC') : text
        const bytes = [...new TextEncoder().encode(normalized)]
        expect({ preType, text, ids: tokenizer.encode(text) }).toEqual({
          preType,
          text,
          ids: [...bytes, 256],
        })
        if (bytes.length === 0) continue
        const decoded = tokenizer.decode(bytes, { clean_up_tokenization_spaces: false })
        expect({ preType, decoded }).toEqual({ preType, decoded: normalized })
      }
    }
  })

  it('splits digits, words, case changes and whitespace as each model does', () => {
    const text = "I'LL pay 1234567 for camelCase HTTPServer  ok\n\n x"
    expect(pieces(tokenizerFor('llama-bpe'), text)).toEqual([
      'I',
      "'LL",
      ' pay',
      ' ',
      '123',
      '456',
      '7',
      ' for',
      ' camelCase',
      ' HTTPServer',
      ' ',
      ' ok',
      '\n\n',
      ' x',
    ])
    expect(pieces(tokenizerFor('qwen2'), '1234 ab')).toEqual(['1', '2', '3', '4', ' ab'])
    expect(pieces(tokenizerFor('tekken'), text)).toEqual([
      'I',
      "'LL",
      ' pay',
      ' ',
      ...'1234567',
      ' for',
      ' camel',
      'Case',
      ' HTTPServer',
      ' ',
      ' ok',
      '\n\n',
      ' x',
    ])
    expect(pieces(tokenizerFor('gpt-2'), "I'll pay 1234567  ok")).toEqual([
      'I',
      "'ll",
      ' pay',
      ' 1234567',
      ' ',
      ' ok',
    ])
    expect(pieces(tokenizerFor('smollm'), 'x 123')).toEqual(['x', ' ', '1', '2', '3'])
    expect(pieces(tokenizerFor('deepseek-llm'), 'Hi 你好 42\n')).toEqual(['Hi', ' ', '你好', ' ', '42', '\n'])
  })

  it('carries llama.cpp’s per-type options: ignore_merges, default BOS, space clean-up, normalization', () => {
    const llama3 = buildBytePairTokenizerFiles(byteVocabulary('llama-bpe'))
    expect((llama3.tokenizerJson['model'] as Record<string, unknown>)['ignore_merges']).toBe(true)
    expect(llama3.tokenizerConfig['clean_up_tokenization_spaces']).toBe(true)
    expect(bytePairPreTokenizer('llama-bpe')?.addBosByDefault).toBe(true)
    expect(bytePairPreTokenizer('tekken')).toMatchObject({
      ignoreMerges: true,
      addBosByDefault: true,
      cleanUpSpaces: false,
    })
    const qwen = buildBytePairTokenizerFiles(byteVocabulary('qwen2'))
    expect(qwen.tokenizerJson['normalizer']).toEqual({ type: 'NFC' })
    expect(qwen.tokenizerConfig['clean_up_tokenization_spaces']).toBe(false)
    expect(bytePairPreTokenizer('qwen2')?.addBosByDefault).toBe(false)
    expect(bytePairPreTokenizer('no-such-type')).toBeUndefined()
  })
})
