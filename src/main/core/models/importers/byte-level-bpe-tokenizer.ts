import type { TokenizerFiles } from '../checkpoint.ts'
import type { BytePairPreTokenizer } from './bpe-pre-tokenizers.ts'

/**
 * Builds Hugging Face `tokenizer.json` + `tokenizer_config.json` for a byte-level BPE vocabulary (GPT-2 style, as
 * Llama 3, Qwen and Mistral-Nemo use): tokens are byte-level strings (each byte shown as one printable character),
 * merges are ranked pairs, the pre-tokenizer is the model's regex split followed by ByteLevel, and the decoder is
 * ByteLevel. Control and user-defined tokens become added tokens, matched in the text before any splitting.
 */

/** The role of one token, as GGUF token types give it. */
export type BytePairTokenRole = 'normal' | 'control' | 'user-defined' | 'unknown' | 'unused'

/** A byte-level BPE vocabulary with its special tokens and options. Ids index `tokens`. */
export interface BytePairVocabulary {
  tokens: readonly string[]
  roles: readonly BytePairTokenRole[]
  /** Merge rules, highest priority first. */
  merges: readonly (readonly [string, string])[]
  /** The `tokenizer.ggml.pre` name, for descriptions. */
  preType: string
  preTokenizer: BytePairPreTokenizer
  bosId: number | undefined
  eosId: number | undefined
  padId: number | undefined
  unknownId: number | undefined
  addBos: boolean
  addEos: boolean
  modelMaxLength: number
  chatTemplate: string | undefined
}

function addedToken(id: number, content: string, special: boolean): Record<string, unknown> {
  return { id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special }
}

type TemplatePiece =
  { SpecialToken: { id: string; type_id: number } } | { Sequence: { id: string; type_id: number } }

/** BOS and EOS around each sequence, as the GGUF's add_bos/add_eos flags ask. */
function postProcessor(vocabulary: BytePairVocabulary): Record<string, unknown> {
  const token = (add: boolean, id: number | undefined) =>
    add && id !== undefined ? vocabulary.tokens[id] : undefined
  const bos = token(vocabulary.addBos, vocabulary.bosId)
  const eos = token(vocabulary.addEos, vocabulary.eosId)
  const sequence = (typeId: number, name: string): TemplatePiece[] => [
    ...(bos === undefined ? [] : [{ SpecialToken: { id: bos, type_id: typeId } }]),
    { Sequence: { id: name, type_id: typeId } },
    ...(eos === undefined ? [] : [{ SpecialToken: { id: eos, type_id: typeId } }]),
  ]
  const specialTokens: Record<string, unknown> = {}
  for (const [content, id] of [
    [bos, vocabulary.bosId],
    [eos, vocabulary.eosId],
  ] as const) {
    if (content !== undefined && id !== undefined)
      specialTokens[content] = { id: content, ids: [id], tokens: [content] }
  }
  return {
    type: 'TemplateProcessing',
    single: sequence(0, 'A'),
    pair: [...sequence(0, 'A'), ...sequence(1, 'B')],
    special_tokens: specialTokens,
  }
}

function preTokenizer(vocabulary: BytePairVocabulary): Record<string, unknown> {
  return {
    type: 'Sequence',
    pretokenizers: [
      ...vocabulary.preTokenizer.patterns.map((pattern) => ({
        type: 'Split',
        pattern: { Regex: pattern },
        behavior: 'Isolated',
        invert: false,
      })),
      { type: 'ByteLevel', add_prefix_space: false, trim_offsets: false, use_regex: false },
    ],
  }
}

/** Builds tokenizer.json and tokenizer_config.json for a byte-level BPE vocabulary. */
export function buildBytePairTokenizerFiles(vocabulary: BytePairVocabulary): TokenizerFiles {
  const { tokens, roles } = vocabulary
  const vocab: Record<string, number> = {}
  tokens.forEach((token, id) => {
    if (!Object.hasOwn(vocab, token)) vocab[token] = id
  })
  const addedTokens: Record<string, unknown>[] = []
  const addedTokensDecoder: Record<string, unknown> = {}
  roles.forEach((role, id) => {
    if (role !== 'control' && role !== 'user-defined' && role !== 'unknown') return
    const token = addedToken(id, tokens[id] ?? '', role !== 'user-defined')
    const { id: _id, ...decoderEntry } = token
    addedTokens.push(token)
    addedTokensDecoder[String(id)] = decoderEntry
  })
  const tokenOf = (id: number | undefined): string | null => (id === undefined ? null : (tokens[id] ?? null))
  const byteLevel = { type: 'ByteLevel', add_prefix_space: false, trim_offsets: false, use_regex: false }
  const { normalization } = vocabulary.preTokenizer
  const tokenizerJson: Record<string, unknown> = {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: addedTokens,
    normalizer: normalization === undefined ? null : { type: normalization },
    pre_tokenizer: preTokenizer(vocabulary),
    post_processor: postProcessor(vocabulary),
    decoder: byteLevel,
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: tokenOf(vocabulary.unknownId),
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: false,
      byte_fallback: false,
      ignore_merges: vocabulary.preTokenizer.ignoreMerges,
      vocab,
      merges: vocabulary.merges.map(([left, right]) => [left, right]),
    },
  }
  const tokenizerConfig: Record<string, unknown> = {
    add_bos_token: vocabulary.addBos,
    add_eos_token: vocabulary.addEos,
    added_tokens_decoder: addedTokensDecoder,
    bos_token: tokenOf(vocabulary.bosId),
    eos_token: tokenOf(vocabulary.eosId),
    unk_token: tokenOf(vocabulary.unknownId),
    ...(vocabulary.padId === undefined ? {} : { pad_token: tokenOf(vocabulary.padId) }),
    clean_up_tokenization_spaces: vocabulary.preTokenizer.cleanUpSpaces,
    model_max_length: vocabulary.modelMaxLength,
    tokenizer_class: 'PreTrainedTokenizerFast',
    ...(vocabulary.chatTemplate === undefined ? {} : { chat_template: vocabulary.chatTemplate }),
  }
  return { tokenizerJson, tokenizerConfig }
}
