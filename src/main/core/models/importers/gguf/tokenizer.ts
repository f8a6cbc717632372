import type { MetadataValue } from '@huggingface/gguf'

import { TillerError } from '../../../errors.ts'
import type { SentencePieceType, SentencePieceVocabulary } from '../sentencepiece-tokenizer.ts'
import type { GgufFile } from './gguf-file.ts'
import {
  metadataArray,
  metadataBoolean,
  metadataInteger,
  metadataString,
  metadataTokenId,
} from './metadata-fields.ts'

// GGUF token types (llama.cpp's llama_token_type): 1 normal, 2 unknown, 3 control, 4 user defined, 5 unused, 6 byte.
const tokenTypes: Record<number, SentencePieceType> = {
  1: 'normal',
  2: 'unknown',
  3: 'control',
  4: 'user-defined',
  5: 'unused',
  6: 'byte',
}

const isString = (value: MetadataValue): value is string => typeof value === 'string'
const isNumber = (value: MetadataValue): value is number => typeof value === 'number'

function missingTokenizer(file: GgufFile, field: string, detail: string): TillerError {
  return new TillerError('missing-tokenizer', `${file.path}: ${detail}`, {
    subject: `${file.path}: ${field}`,
  })
}

function mismatchedLength(file: GgufFile, field: string, length: number, tokenCount: number): TillerError {
  return new TillerError(
    'file-corrupt',
    `${file.path}: metadata field "${field}" has ${length} entries but tokenizer.ggml.tokens has ${tokenCount}. ` +
      `The file is damaged; convert the model again.`,
    { subject: `${file.path}: ${field}` },
  )
}

/** The SentencePiece vocabulary embedded in a GGUF file (`tokenizer.ggml.*`, model "llama"). */
export function sentencePieceVocabularyFromGguf(file: GgufFile): SentencePieceVocabulary {
  const model = metadataString(file, 'tokenizer.ggml.model')
  if (model === undefined) {
    throw missingTokenizer(
      file,
      'tokenizer.ggml.model',
      'has no embedded tokenizer (tokenizer.ggml.model is missing). Convert the model again with a llama.cpp converter that embeds the vocabulary.',
    )
  }
  if (model !== 'llama') {
    throw missingTokenizer(
      file,
      'tokenizer.ggml.model',
      `embeds a "${model}" tokenizer; Tiller converts only SentencePiece tokenizers (tokenizer.ggml.model = "llama"). ` +
        `Use the model's Hugging Face ONNX export, which ships its tokenizer.json, instead.`,
    )
  }
  const pieces = metadataArray(file, 'tokenizer.ggml.tokens', isString, 'strings')
  if (pieces === undefined || pieces.length === 0) {
    throw missingTokenizer(
      file,
      'tokenizer.ggml.tokens',
      'has no vocabulary (tokenizer.ggml.tokens is missing or empty).',
    )
  }
  const scores = metadataArray(file, 'tokenizer.ggml.scores', isNumber, 'numbers')
  if (scores === undefined) {
    throw missingTokenizer(
      file,
      'tokenizer.ggml.scores',
      'has no token scores (tokenizer.ggml.scores), so the BPE merge order of its SentencePiece tokenizer is unknown.',
    )
  }
  if (scores.length !== pieces.length)
    throw mismatchedLength(file, 'tokenizer.ggml.scores', scores.length, pieces.length)
  const rawTypes = metadataArray(file, 'tokenizer.ggml.token_type', isNumber, 'integers')
  if (rawTypes !== undefined && rawTypes.length !== pieces.length) {
    throw mismatchedLength(file, 'tokenizer.ggml.token_type', rawTypes.length, pieces.length)
  }
  const unknownId = metadataTokenId(file, 'tokenizer.ggml.unknown_token_id') ?? 0
  const bosId = metadataTokenId(file, 'tokenizer.ggml.bos_token_id') ?? 1
  const eosId = metadataTokenId(file, 'tokenizer.ggml.eos_token_id') ?? 2
  const padId = metadataTokenId(file, 'tokenizer.ggml.padding_token_id')
  const types = pieces.map((_, id): SentencePieceType => {
    const type = rawTypes?.[id]
    if (type !== undefined) return tokenTypes[type] ?? 'normal'
    // Without token types, mark the special ids the way llama.cpp's defaults do.
    return id === unknownId ? 'unknown' : id === bosId || id === eosId ? 'control' : 'normal'
  })
  return {
    pieces,
    scores,
    types,
    unknownId: unknownId < pieces.length ? unknownId : undefined,
    bosId: bosId < pieces.length ? bosId : undefined,
    eosId: eosId < pieces.length ? eosId : undefined,
    padId: padId !== undefined && padId < pieces.length ? padId : undefined,
    addBos: metadataBoolean(file, 'tokenizer.ggml.add_bos_token', true),
    addEos: metadataBoolean(file, 'tokenizer.ggml.add_eos_token', false),
    addSpacePrefix: metadataBoolean(file, 'tokenizer.ggml.add_space_prefix', true),
    modelMaxLength: metadataInteger(file, 'llama.context_length', 2048),
    chatTemplate: metadataString(file, 'tokenizer.chat_template'),
  }
}
