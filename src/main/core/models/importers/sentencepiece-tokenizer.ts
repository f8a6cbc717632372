import type { TokenizerFiles } from '../checkpoint.ts'

/**
 * Builds Hugging Face `tokenizer.json` + `tokenizer_config.json` for a SentencePiece BPE vocabulary with byte
 * fallback (Llama-1/2 style), in the layout Hugging Face's Llama converter produces and Transformers.js loads:
 * a BPE model with `byte_fallback`, merges derived from the piece scores, normalizer Prepend("▁") +
 * Replace(" ", "▁"), decoder Replace("▁", " ") + ByteFallback + Fuse + Strip, and a post-processor adding BOS.
 */

/** SentencePiece piece types (GGUF `tokenizer.ggml.token_type` values 1..6). */
export type SentencePieceType = 'normal' | 'unknown' | 'control' | 'user-defined' | 'unused' | 'byte'

/** A SentencePiece vocabulary with its special tokens and options. Ids index `pieces`. */
export interface SentencePieceVocabulary {
  pieces: readonly string[]
  scores: readonly number[]
  types: readonly SentencePieceType[]
  unknownId: number | undefined
  bosId: number | undefined
  eosId: number | undefined
  padId: number | undefined
  addBos: boolean
  addEos: boolean
  /** Whether a "▁" is prepended to the text (SentencePiece's add_dummy_prefix). */
  addSpacePrefix: boolean
  modelMaxLength: number
  chatTemplate: string | undefined
}

const spaceMark = '▁'

/**
 * BPE merges from piece scores, as Hugging Face's SentencePiece extractor derives them: every split of every
 * piece into two pieces that are both in the vocabulary is a merge; merges are ordered by the score of the
 * merged piece (highest first), ties by vocabulary order, and splits of one piece by (left id, right id).
 * Splits are between Unicode code points, never inside a surrogate pair.
 */
export function sentencePieceMerges(
  pieces: readonly string[],
  scores: readonly number[],
): [string, string][] {
  const ids = new Map<string, number>()
  pieces.forEach((piece, id) => ids.set(piece, id))
  const scoreOf = new Map<string, number>()
  pieces.forEach((piece, id) => scoreOf.set(piece, scores[id] ?? 0))
  // Sorting the pieces (262k for Gemma) rather than their splits (515k) is the same order: every split of a piece
  // carries its score, and ties keep the vocabulary order in both.
  const entries = [...scoreOf]
  const order = entries.map((_, index) => index)
  order.sort((first, second) => (entries[second]?.[1] ?? 0) - (entries[first]?.[1] ?? 0) || first - second)
  const merges: [string, string][] = []
  for (const index of order) {
    const piece = entries[index]?.[0] ?? ''
    const local: { left: string; right: string; leftId: number; rightId: number }[] = []
    // Split offsets at code point boundaries: a surrogate pair is one character.
    for (let offset = 0; offset < piece.length;) {
      offset += (piece.codePointAt(offset) ?? 0) > 0xffff ? 2 : 1
      if (offset >= piece.length) break
      const left = piece.slice(0, offset)
      const right = piece.slice(offset)
      const leftId = ids.get(left)
      const rightId = ids.get(right)
      if (leftId !== undefined && rightId !== undefined) local.push({ left, right, leftId, rightId })
    }
    local.sort((first, second) => first.leftId - second.leftId || first.rightId - second.rightId)
    for (const { left, right } of local) merges.push([left, right])
  }
  return merges
}

function addedToken(id: number, content: string, special: boolean): Record<string, unknown> {
  return { id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special }
}

type TemplatePiece =
  { SpecialToken: { id: string; type_id: number } } | { Sequence: { id: string; type_id: number } }

function postProcessor(vocabulary: SentencePieceVocabulary): Record<string, unknown> {
  const bos =
    vocabulary.addBos && vocabulary.bosId !== undefined ? vocabulary.pieces[vocabulary.bosId] : undefined
  const eos =
    vocabulary.addEos && vocabulary.eosId !== undefined ? vocabulary.pieces[vocabulary.eosId] : undefined
  const sequence = (typeId: number, name: string): TemplatePiece[] => [
    ...(bos === undefined ? [] : [{ SpecialToken: { id: bos, type_id: typeId } }]),
    { Sequence: { id: name, type_id: typeId } },
    ...(eos === undefined ? [] : [{ SpecialToken: { id: eos, type_id: typeId } }]),
  ]
  const specialTokens: Record<string, unknown> = {}
  for (const [token, id] of [
    [bos, vocabulary.bosId],
    [eos, vocabulary.eosId],
  ] as const) {
    if (token !== undefined && id !== undefined)
      specialTokens[token] = { id: token, ids: [id], tokens: [token] }
  }
  return {
    type: 'TemplateProcessing',
    single: sequence(0, 'A'),
    pair: [...sequence(0, 'A'), ...sequence(1, 'B')],
    special_tokens: specialTokens,
  }
}

/** Builds tokenizer.json and tokenizer_config.json for a SentencePiece BPE vocabulary with byte fallback. */
export function buildSentencePieceTokenizerFiles(vocabulary: SentencePieceVocabulary): TokenizerFiles {
  const { pieces, types } = vocabulary
  const vocab: Record<string, number> = {}
  pieces.forEach((piece, id) => {
    if (!Object.hasOwn(vocab, piece)) vocab[piece] = id
  })
  const addedTokens: Record<string, unknown>[] = []
  const addedTokensDecoder: Record<string, unknown> = {}
  types.forEach((type, id) => {
    if (type !== 'unknown' && type !== 'control' && type !== 'user-defined') return
    const token = addedToken(id, pieces[id] ?? '', type !== 'user-defined')
    const { id: _id, ...decoderEntry } = token
    addedTokens.push(token)
    addedTokensDecoder[String(id)] = decoderEntry
  })
  const pieceOf = (id: number | undefined): string | undefined => (id === undefined ? undefined : pieces[id])
  const replaceSpaces = { type: 'Replace', pattern: { String: ' ' }, content: spaceMark }
  const tokenizerJson: Record<string, unknown> = {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: addedTokens,
    normalizer: vocabulary.addSpacePrefix
      ? { type: 'Sequence', normalizers: [{ type: 'Prepend', prepend: spaceMark }, replaceSpaces] }
      : replaceSpaces,
    pre_tokenizer: null,
    post_processor: postProcessor(vocabulary),
    decoder: {
      type: 'Sequence',
      decoders: [
        { type: 'Replace', pattern: { String: spaceMark }, content: ' ' },
        { type: 'ByteFallback' },
        { type: 'Fuse' },
        ...(vocabulary.addSpacePrefix ? [{ type: 'Strip', content: ' ', start: 1, stop: 0 }] : []),
      ],
    },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: pieceOf(vocabulary.unknownId) ?? null,
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: true,
      byte_fallback: true,
      ignore_merges: false,
      vocab,
      merges: sentencePieceMerges(pieces, vocabulary.scores),
    },
  }
  const tokenizerConfig: Record<string, unknown> = {
    add_bos_token: vocabulary.addBos,
    add_eos_token: vocabulary.addEos,
    added_tokens_decoder: addedTokensDecoder,
    bos_token: pieceOf(vocabulary.bosId) ?? null,
    eos_token: pieceOf(vocabulary.eosId) ?? null,
    unk_token: pieceOf(vocabulary.unknownId) ?? null,
    ...(vocabulary.padId === undefined ? {} : { pad_token: pieceOf(vocabulary.padId) }),
    clean_up_tokenization_spaces: false,
    legacy: true,
    model_max_length: vocabulary.modelMaxLength,
    tokenizer_class: 'LlamaTokenizer',
    ...(vocabulary.chatTemplate === undefined ? {} : { chat_template: vocabulary.chatTemplate }),
  }
  return { tokenizerJson, tokenizerConfig }
}
