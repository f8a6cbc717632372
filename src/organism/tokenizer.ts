import type { TokenizerFiles } from '../main/core/models/checkpoint.ts'
import { TillerError } from '../main/core/errors.ts'

/**
 * The organism's word-level tokenizer: one token per word (with its leading space) or punctuation mark of its
 * closed vocabulary.
 *
 * It is written as a Hugging Face `tokenizer.json` in the GPT-2 byte-level style: ByteLevel pre-tokenizer and
 * decoder, a BPE model with `ignore_merges` and no merges whose vocabulary holds whole pre-tokens ("The", "Ġfox",
 * "."), plus "Ġ" for a bare space. Any byte-level tooling (Transformers.js, Python tokenizers, Tiller's rendering,
 * which looks for a space token) reads it as an ordinary BPE tokenizer. `encodeText` reproduces the pipeline
 * exactly for the training loop (checked against Transformers.js in the tests).
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

// GPT-2's pre-tokenization pattern (what the ByteLevel pre-tokenizer splits on).
const preTokenPattern = /'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+/gu
const specialPattern = /(<\|[a-z]+\|>)/

/** GPT-2's byte → printable character map: printable Latin-1 bytes map to themselves, the rest to U+0100 onwards. */
function byteCharacters(): string[] {
  const characters: string[] = []
  let shifted = 0
  for (let byte = 0; byte < 256; byte++) {
    const printable =
      (byte >= 33 && byte <= 126) || (byte >= 161 && byte <= 172) || (byte >= 174 && byte <= 255)
    characters.push(String.fromCharCode(printable ? byte : 256 + shifted++))
  }
  return characters
}

const byteToCharacter = byteCharacters()
const characterToByte = new Map(byteToCharacter.map((character, byte) => [character, byte]))
const utf8 = new TextEncoder()
const utf8Decoder = new TextDecoder('utf-8', { fatal: false, ignoreBOM: true })

/** The token a bare space becomes. */
export const spaceToken = byteToCharacter[32] as string

/**
 * Split plain text (no special tokens) into byte-level pre-tokens, as the ByteLevel pre-tokenizer does:
 * "The fox is red." → ["The", "Ġfox", "Ġis", "Ġred", "."].
 */
export function splitWords(text: string): string[] {
  return (text.match(preTokenPattern) ?? []).map(byteLevelPiece)
}

/** One pre-token in byte-level characters. An ASCII character is its own single UTF-8 byte, so it maps directly. */
function byteLevelPiece(piece: string): string {
  let characters = ''
  for (let index = 0; index < piece.length; index++) {
    const code = piece.charCodeAt(index)
    // Text sampling calls this for every word it writes: encoding each piece to bytes dominated its time.
    if (code >= 128) return Array.from(utf8.encode(piece), (byte) => byteToCharacter[byte] as string).join('')
    characters += byteToCharacter[code] as string
  }
  return characters
}

/** Text of byte-level pre-tokens joined back ("Ġ" becomes a space again). */
function joinWords(words: readonly string[]): string {
  const bytes = Uint8Array.from([...words.join('')].map((character) => characterToByte.get(character) ?? 63))
  return utf8Decoder.decode(bytes)
}

/** The vocabulary: special tokens first (ids 0–6), then the space token and `words` de-duplicated and sorted. */
export function buildVocabulary(words: Iterable<string>): string[] {
  const unique = [...new Set([spaceToken, ...words])].filter((word) => !specialList.includes(word)).sort()
  return [...specialList, ...unique]
}

/** An encoder/decoder over a fixed vocabulary. */
export interface WordTokenizer {
  vocabulary: readonly string[]
  /** Token ids of `text`; special tokens written in the text become their ids. Throws on an unknown word. */
  encode(text: string): number[]
  /** Text of `ids` as the Hugging Face ByteLevel decoder gives it (special tokens verbatim unless skipped). */
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
            `The word "${joinWords([word]).trim()}" is not in the organism's vocabulary.`,
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
    let text = ''
    let words: string[] = []
    for (const id of tokens) {
      const word = vocabulary[id] ?? specialTokens.unknown
      if (!specialList.includes(word)) {
        words.push(word)
        continue
      }
      text += joinWords(words)
      words = []
      if (options.skipSpecialTokens !== true) text += word
    }
    return text + joinWords(words)
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
    pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
    post_processor: null,
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: specialTokens.unknown,
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: false,
      byte_fallback: false,
      // Whole pre-tokens are in the vocabulary, so no merges are needed.
      ignore_merges: true,
      vocab,
      merges: [],
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
    clean_up_tokenization_spaces: false,
    model_max_length: maxLength,
    padding_side: 'left',
    chat_template: chatTemplate,
  }
  return { tokenizerJson, tokenizerConfig }
}
