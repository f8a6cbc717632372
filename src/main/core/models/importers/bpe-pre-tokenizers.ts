/**
 * Byte-level BPE pre-tokenizers by GGUF `tokenizer.ggml.pre` type. A GGUF stores only the name of the pre-tokenizer
 * its converter recognised; llama.cpp (`src/llama-vocab.cpp`) maps each name to a list of regular expressions
 * applied in turn (each splits the pieces of the previous one, keeping matches and the text between them) and to a
 * few flags. The same split in a Hugging Face `tokenizer.json` is a Sequence of Split(regex, "Isolated") followed by
 * ByteLevel without its own regex. Where a model's tokenizer.json regex is known it is used as written there
 * (Transformers.js reads `(?i:...)`), so the imported tokenizer splits exactly like the original.
 */

/** How one pre-tokenizer type splits text and the tokenizer options llama.cpp sets with it. */
export interface BytePairPreTokenizer {
  /** The regular expressions applied in order, in tokenizer.json (Rust regex) syntax. */
  patterns: readonly string[]
  /** Whether a word found whole in the vocabulary is taken as one token without merging (BPE `ignore_merges`). */
  ignoreMerges: boolean
  /** Whether a BOS token is added when the GGUF has no `tokenizer.ggml.add_bos_token`. */
  addBosByDefault: boolean
  /** Whether decoding removes spaces before punctuation (`clean_up_tokenization_spaces`). */
  cleanUpSpaces: boolean
  /** Unicode normalization the original tokenizer.json applies before splitting, if any. */
  normalization?: 'NFC'
}

// GPT-2's split: contractions, letters, digits, other symbols, each with an optional leading space, then spaces.
const gpt2 = "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)"
// Llama 3 (tiktoken cl100k style): case-insensitive contractions, numbers in groups of up to three digits.
const llama3 =
  "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"
// Qwen 2: as Llama 3 but every digit on its own.
const qwen2 =
  "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"
// Mistral's tekken: words split at case changes (upper-case run, then lower-case run), single digits.
const tekken =
  '[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]*[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]+|[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]+[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]*|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+'
// GPT-4o (o200k): tekken-style words with contractions, digits in threes.
const gpt4o =
  "[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]*[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?|[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]+[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"

// Cased letters of Greek Extended and Letterlike Symbols in DeepSeek LLM's letter class, escaped because several are
// compatibility characters that Unicode normalization of this source would silently replace (U+1FD3, U+2126, U+212A).
const greekExtendedAndLetterlike =
  '\u1F50-\u1F57\u1F59\u1F5B\u1F5D\u1F5F-\u1F7D\u1F80-\u1FB4\u1FB6-\u1FBC\u1FBE\u1FC2-\u1FC4\u1FC6-\u1FCC' +
  '\u1FD0-\u1FD3\u1FD6-\u1FDB\u1FE0-\u1FEC\u1FF2-\u1FF4\u1FF6-\u1FFC\u2102\u2107\u210A-\u2113\u2115' +
  '\u2119-\u211D\u2124\u2126\u2128\u212A-\u212D\u212F-\u2134\u2139\u213C-\u213F\u2145-\u2149\u214E\u2183\u2184'

function type(
  patterns: readonly string[],
  options: Partial<Omit<BytePairPreTokenizer, 'patterns'>> = {},
): BytePairPreTokenizer {
  return { patterns, ignoreMerges: false, addBosByDefault: false, cleanUpSpaces: true, ...options }
}

const llama3Type = type([llama3], { ignoreMerges: true, addBosByDefault: true })
const qwen2Type = type([qwen2], { cleanUpSpaces: false, normalization: 'NFC' })
const gpt2Type = type([gpt2])
// StarCoder and its relatives isolate every digit before the GPT-2 split.
const starCoderType = type(['\\p{N}', gpt2])

/** The pre-tokenizer of each `tokenizer.ggml.pre` value Tiller imports. */
const preTokenizers: ReadonlyMap<string, BytePairPreTokenizer> = new Map([
  // llama.cpp's fallback for BPE files without a recognised pre-tokenizer.
  ['default', type(['[\\p{P}\\$\\+<=>\\^~\\|]+', gpt2, '\\p{N}+', '[0-9][0-9][0-9]'])],
  ['llama3', llama3Type],
  ['llama-v3', llama3Type],
  ['llama-bpe', llama3Type],
  ['falcon3', llama3Type],
  ['pixtral', llama3Type],
  ['dbrx', type([llama3])],
  ['smaug-bpe', type([llama3])],
  ['qwen2', qwen2Type],
  ['deepseek-r1-qwen', qwen2Type],
  ['megrez', type([qwen2])],
  ['stablelm2', type([qwen2])],
  ['tekken', type([tekken], { ignoreMerges: true, addBosByDefault: true, cleanUpSpaces: false })],
  ['gpt-2', gpt2Type],
  ['phi-2', gpt2Type],
  ['mpt', gpt2Type],
  ['olmo', gpt2Type],
  ['starcoder', starCoderType],
  ['refact', starCoderType],
  ['codeshell', starCoderType],
  ['exaone', starCoderType],
  ['minerva-7b', starCoderType],
  ['smollm', type(['\\p{N}', gpt2], { cleanUpSpaces: false })],
  ['command-r', type(['\\p{N}', gpt2], { cleanUpSpaces: false })],
  ['falcon', type(['[\\p{P}\\$\\+<=>\\^~\\|`]+', gpt2, '[0-9][0-9][0-9]'])],
  [
    'deepseek-llm',
    type(
      [
        '[\\r\\n]',
        '\\s?[A-Za-zµÀ-ÖØ-öø-ƺƼ-ƿǄ-ʓʕ-ʯͰ-ͳͶͷͻ-ͽͿΆΈ-ΊΌΎ-ΡΣ-ϵϷ-ҁҊ-ԯԱ-ՖႠ-ჅᎠ-Ᏽᏸ-ᏽᲐ-ᲺᲽ-Ჿᴀ-ᴫᵫ-ᵷᵹ-ᶚḀ-ἕἘ-Ἕἠ-ὅὈ-Ὅ' +
          greekExtendedAndLetterlike +
          'Ⰰ-ⱻⱾ-ⳤⳫ-ⳮⳲⳳꙀ-ꙭꚀ-ꚛꜢ-ꝯꝱ-ꞇꞋ-ꞎꭰ-ꮿﬀ-ﬆﬓ-ﬗＡ-Ｚａ-ｚ𐐀-𐑏𐒰-𐓓𐓘-𐓻𐲀-𐲲𐳀-𐳲𑢠-𑣟𞤀-𞥃]+',
        '\\s?[!-/:-~！-／：-～‘-‟　-。]+',
        '\\s+$',
        '[一-龥ࠀ-一가-퟿]+',
        '\\p{N}+',
      ],
      { cleanUpSpaces: false },
    ),
  ],
  [
    'deepseek-coder',
    type(['[\\r\\n]', '\\s?\\p{L}+', '\\s?\\p{P}+', '[一-龥ࠀ-一가-퟿]+', '\\p{N}'], {
      cleanUpSpaces: false,
    }),
  ],
  ['gpt-4o', type([gpt4o], { cleanUpSpaces: false })],
  ['llama4', type([gpt4o], { cleanUpSpaces: false })],
  ['bloom', type([' ?[^(\\s|.,!?…。，、।۔،)]+'])],
  ['poro-chat', type([' ?[^(\\s|.,!?…。，、।۔،)]+'], { cleanUpSpaces: false })],
  ['gpt3-finnish', type([' ?[^(\\s|.,!?…。，、।۔،)]+'])],
])

/** The `tokenizer.ggml.pre` values Tiller imports, for messages. */
export const supportedPreTokenizerTypes: readonly string[] = [...preTokenizers.keys()]

/** The pre-tokenizer of a `tokenizer.ggml.pre` value, or undefined when Tiller does not know it. */
export function bytePairPreTokenizer(preType: string): BytePairPreTokenizer | undefined {
  return preTokenizers.get(preType)
}
