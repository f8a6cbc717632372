import { TillerError } from '../errors.ts'
import type { TokenizerFiles } from './checkpoint.ts'
import { bpeModel, byteLevelCharacters, specialAddedTokens } from './tokenizer-json.ts'

/**
 * A byte-level BPE tokenizer in Hugging Face `tokenizer.json` form, for random test models: every text encodes
 * (all 256 bytes are tokens), ids stay below the model's vocabulary size, and the chat template is a small
 * Zephyr-style one with `<|system|>` / `<|user|>` / `<|assistant|>` role tokens and `</s>` closing each turn.
 *
 * Layout: special tokens first (`byteTokenizerSpecialIds`), then the 256 byte tokens, then merges that fill the
 * vocabulary: first those learned from a short built-in English text, then deterministic filler merges.
 */

/** Ids of the special tokens; configs of models using this tokenizer set bos 1, eos 2, pad 0. */
export const byteTokenizerSpecialIds = {
  pad: 0,
  bos: 1,
  eos: 2,
  system: 3,
  user: 4,
  assistant: 5,
} as const

const specialTokens = ['<pad>', '<s>', '</s>', '<|system|>', '<|user|>', '<|assistant|>'] as const
const firstByteId = specialTokens.length

/** Smallest vocabulary this tokenizer can fill: the special tokens plus 256 bytes. */
export const byteTokenizerMinimumVocab = firstByteId + 256

const chatTemplate =
  "{{ bos_token }}{% for message in messages %}{{ '<|' + message['role'] + '|>\\n' + message['content'] + eos_token + '\\n' }}" +
  "{% endfor %}{% if add_generation_prompt %}{{ '<|assistant|>\\n' }}{% endif %}"

const trainingText =
  'Once upon a time there was a little girl named Lily. She liked to play in the park with her friends. ' +
  'One day she saw a big red ball under the tree. "Can I play with it?" she asked her mother. ' +
  'Her mother smiled and said yes. The sun was warm and the birds were singing. They were very happy. ' +
  'The question is what the answer should be, and whether it is true or false. I think that you are right.'

/** Words as ByteLevel sees them: split before spaces, each word a list of byte characters. */
function trainingWords(characters: string[]): string[][] {
  const words = trainingText.match(/ ?[A-Za-z]+| ?[^A-Za-z\s]+|\s+/g) ?? []
  return words.map((word) => Array.from(new TextEncoder().encode(word), (byte) => characters[byte] ?? ''))
}

/** Learn up to `count` merges from the built-in text (most frequent pair first; ties by first occurrence). */
function learnMerges(words: string[][], count: number, known: Set<string>): [string, string][] {
  const merges: [string, string][] = []
  while (merges.length < count) {
    const frequencies = new Map<string, number>()
    for (const word of words) {
      for (let index = 0; index + 1 < word.length; index++) {
        const key = `${word[index]} ${word[index + 1]}`
        frequencies.set(key, (frequencies.get(key) ?? 0) + 1)
      }
    }
    let best: string | undefined
    let bestCount = 1
    for (const [key, frequency] of frequencies) {
      if (frequency > bestCount && !known.has(key.replace(' ', ''))) {
        best = key
        bestCount = frequency
      }
    }
    if (best === undefined) break
    const [left, right] = best.split(' ') as [string, string]
    merges.push([left, right])
    known.add(left + right)
    for (const word of words) {
      for (let index = 0; index + 1 < word.length; index++) {
        if (word[index] === left && word[index + 1] === right) word.splice(index, 2, left + right)
      }
    }
  }
  return merges
}

/** Deterministic extra merges (letter or space-marker + existing token) until the vocabulary is full. */
function fillerMerges(count: number, tokens: string[], known: Set<string>): [string, string][] {
  const prefixes = ['Ġ', ...'abcdefghijklmnopqrstuvwxyz']
  const merges: [string, string][] = []
  for (let cursor = 0; merges.length < count && cursor < tokens.length; cursor++) {
    const right = tokens[cursor] ?? ''
    for (const left of prefixes) {
      if (merges.length >= count) break
      if (known.has(left + right)) continue
      merges.push([left, right])
      known.add(left + right)
      tokens.push(left + right)
    }
  }
  return merges
}

/**
 * Tokenizer files for a random model with `vocabSize` tokens (at least `byteTokenizerMinimumVocab`).
 * `AutoTokenizer.from_pretrained(folder)` of Transformers.js loads them; `modelMaxLength` goes to
 * tokenizer_config.json.
 */
export function byteTokenizerFiles(vocabSize: number, modelMaxLength = 2048): TokenizerFiles {
  if (!Number.isInteger(vocabSize) || vocabSize < byteTokenizerMinimumVocab) {
    throw new TillerError(
      'invalid-argument',
      `The byte tokenizer needs a vocabulary of at least ${byteTokenizerMinimumVocab} tokens (got ${vocabSize}).`,
      { subject: 'vocabSize' },
    )
  }
  const characters = byteLevelCharacters()
  const vocab: Record<string, number> = {}
  specialTokens.forEach((token, id) => (vocab[token] = id))
  characters.forEach((character, byte) => (vocab[character] = firstByteId + byte))
  const known = new Set<string>([...characters, ...specialTokens])
  const mergeCount = vocabSize - byteTokenizerMinimumVocab
  const learned = learnMerges(trainingWords(characters), mergeCount, known)
  const tokens = [
    ...characters.filter((character) => /[a-z]/.test(character)),
    ...learned.map(([a, b]) => a + b),
  ]
  const merges = [...learned, ...fillerMerges(mergeCount - learned.length, tokens, known)]
  merges.forEach(([left, right], index) => (vocab[left + right] = byteTokenizerMinimumVocab + index))

  const bos = specialTokens[byteTokenizerSpecialIds.bos]
  const tokenizerJson = {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: specialAddedTokens(specialTokens),
    normalizer: null,
    pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
    post_processor: {
      type: 'TemplateProcessing',
      single: [{ SpecialToken: { id: bos, type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }],
      pair: [
        { SpecialToken: { id: bos, type_id: 0 } },
        { Sequence: { id: 'A', type_id: 0 } },
        { SpecialToken: { id: bos, type_id: 1 } },
        { Sequence: { id: 'B', type_id: 1 } },
      ],
      special_tokens: { [bos]: { id: bos, ids: [byteTokenizerSpecialIds.bos], tokens: [bos] } },
    },
    decoder: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
    model: bpeModel({
      vocab,
      merges: merges.map(([left, right]) => `${left} ${right}`),
      unknownToken: null,
      ignoreMerges: false,
    }),
  }
  const tokenizerConfig = {
    tokenizer_class: 'PreTrainedTokenizerFast',
    bos_token: bos,
    eos_token: specialTokens[byteTokenizerSpecialIds.eos],
    pad_token: specialTokens[byteTokenizerSpecialIds.pad],
    unk_token: null,
    add_bos_token: true,
    add_eos_token: false,
    clean_up_tokenization_spaces: false,
    model_max_length: modelMaxLength,
    chat_template: chatTemplate,
  }
  return { tokenizerJson, tokenizerConfig }
}
