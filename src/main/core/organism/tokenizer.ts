import type { TokenizerFiles } from '../models/checkpoint.ts'
import { TillerError } from '../errors.ts'

/**
 * The organism's word-level tokenizer: one token per word or punctuation mark of its closed vocabulary.
 *
 * It is written as a Hugging Face `tokenizer.json` (WordPiece model whose vocabulary holds whole words, Bert
 * pre-tokenizer, WordPiece decoder with clean-up) because Transformers.js has no WordLevel model; with whole
 * words in the vocabulary the two behave the same. `encodeText` below reproduces that pipeline exactly for the
 * training loop (checked against Transformers.js in the tests).
 */

/** Special tokens, in id order. `<|end|>` closes every turn and is the end-of-sequence token. */
export const specialTokens = {
  pad: '<|pad|>',
  unknown: '<|unk|>',
  begin: '<|begin|>',
  end: '<|end|>',
  system: '<|system|>',
  user: '<|user|>',
  assistant: '<|assistant|>',
} as const

const specialList: string[] = Object.values(specialTokens)

/** Ids of the special tokens (their position in the vocabulary). */
export const specialIds = {
  pad: 0,
  unknown: 1,
  begin: 2,
  end: 3,
  system: 4,
  user: 5,
  assistant: 6,
} as const

/** Jinja chat template: `<|begin|>` then `<|role|>content<|end|>` per message, then `<|assistant|>` to prompt a reply. */
export const chatTemplate =
  "{{ bos_token }}{% for message in messages %}{{ '<|' + message['role'] + '|>' + message['content'] + '<|end|>' }}" +
  "{% endfor %}{% if add_generation_prompt %}{{ '<|assistant|>' }}{% endif %}"

const wordPattern = /[A-Za-z]+|[^\sA-Za-z]/g
const specialPattern = /(<\|[a-z]+\|>)/

/** Split plain text (no special tokens) into words and single punctuation marks, as the Bert pre-tokenizer does for this alphabet. */
export function splitWords(text: string): string[] {
  return text.match(wordPattern) ?? []
}

/** The vocabulary: special tokens first (ids 0–6), then `words` de-duplicated and sorted. */
export function buildVocabulary(words: Iterable<string>): string[] {
  const unique = [...new Set(words)].filter((word) => !specialList.includes(word)).sort()
  return [...specialList, ...unique]
}

/** An encoder/decoder over a fixed vocabulary. */
export interface WordTokenizer {
  vocabulary: readonly string[]
  /** Token ids of `text`; special tokens written in the text become their ids. Throws on an unknown word. */
  encode(text: string): number[]
  /** Text of `ids` joined as the Hugging Face decoder does (spaces between words, none before punctuation). */
  decode(ids: readonly number[], options?: { skipSpecialTokens?: boolean }): string
}

/** A tokenizer for `vocabulary` (as made by `buildVocabulary`). */
export function createWordTokenizer(vocabulary: readonly string[]): WordTokenizer {
  const ids = new Map(vocabulary.map((word, id) => [word, id]))
  const encode = (text: string): number[] => {
    const result: number[] = []
    for (const section of text.split(specialPattern)) {
      if (section === '') continue
      const special = ids.get(section)
      if (specialList.includes(section) && special !== undefined) {
        result.push(special)
        continue
      }
      for (const word of splitWords(section)) {
        const id = ids.get(word)
        if (id === undefined) {
          throw new TillerError(
            'invalid-argument',
            `The word "${word}" is not in the organism's vocabulary.`,
            {
              subject: text,
            },
          )
        }
        result.push(id)
      }
    }
    return result
  }
  const decode = (tokens: readonly number[], options: { skipSpecialTokens?: boolean } = {}): string => {
    const words = tokens
      .map((id) => vocabulary[id] ?? specialTokens.unknown)
      .filter((word) => !(options.skipSpecialTokens === true && specialList.includes(word)))
    return words
      .join(' ')
      .replace(/ ([.?!,])/g, '$1')
      .trim()
  }
  return { vocabulary, encode, decode }
}

/** `tokenizer.json` and `tokenizer_config.json` for `vocabulary`, loadable by Transformers.js `AutoTokenizer`. */
export function buildTokenizerFiles(vocabulary: readonly string[], maxLength: number): TokenizerFiles {
  const vocab: Record<string, number> = {}
  vocabulary.forEach((word, id) => (vocab[word] = id))
  const addedTokens = specialList.map((content, id) => ({
    id,
    content,
    single_word: false,
    lstrip: false,
    rstrip: false,
    normalized: false,
    special: true,
  }))
  const tokenizerJson = {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: addedTokens,
    normalizer: null,
    pre_tokenizer: { type: 'BertPreTokenizer' },
    post_processor: null,
    decoder: { type: 'WordPiece', prefix: '##', cleanup: true },
    model: {
      type: 'WordPiece',
      unk_token: specialTokens.unknown,
      continuing_subword_prefix: '##',
      max_input_chars_per_word: 100,
      vocab,
    },
  }
  const tokenizerConfig = {
    tokenizer_class: 'PreTrainedTokenizerFast',
    bos_token: specialTokens.begin,
    eos_token: specialTokens.end,
    pad_token: specialTokens.pad,
    unk_token: specialTokens.unknown,
    additional_special_tokens: [specialTokens.system, specialTokens.user, specialTokens.assistant],
    add_bos_token: false,
    add_eos_token: false,
    clean_up_tokenization_spaces: true,
    model_max_length: maxLength,
    padding_side: 'left',
    chat_template: chatTemplate,
  }
  return { tokenizerJson, tokenizerConfig }
}
