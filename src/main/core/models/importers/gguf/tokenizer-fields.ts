import type { MetadataValue } from '@huggingface/gguf'

import { TillerError } from '../../../errors.ts'
import type { GgufFile } from './gguf-file.ts'
import { metadataArray } from './metadata-fields.ts'

/** GGUF token types (llama.cpp's llama_token_type): 1 normal, 2 unknown, 3 control, 4 user defined, 5 unused, 6 byte. */
export type GgufTokenType = 'normal' | 'unknown' | 'control' | 'user-defined' | 'unused' | 'byte'

const tokenTypes: Record<number, GgufTokenType> = {
  1: 'normal',
  2: 'unknown',
  3: 'control',
  4: 'user-defined',
  5: 'unused',
  6: 'byte',
}

const isString = (value: MetadataValue): value is string => typeof value === 'string'
const isNumber = (value: MetadataValue): value is number => typeof value === 'number'

/** A TillerError('missing-tokenizer') naming the file and the tokenizer field. */
export function missingTokenizer(file: GgufFile, field: string, detail: string): TillerError {
  return new TillerError('missing-tokenizer', `${file.path}: ${detail}`, {
    subject: `${file.path}: ${field}`,
  })
}

/** A TillerError('file-corrupt') for a per-token array whose length differs from the vocabulary's. */
export function mismatchedLength(
  file: GgufFile,
  field: string,
  length: number,
  tokenCount: number,
): TillerError {
  return new TillerError(
    'file-corrupt',
    `${file.path}: metadata field "${field}" has ${length} entries but tokenizer.ggml.tokens has ${tokenCount}. ` +
      `The file is damaged; convert the model again.`,
    { subject: `${file.path}: ${field}` },
  )
}

/** The vocabulary (`tokenizer.ggml.tokens`), refused when missing or empty. */
export function ggufTokens(file: GgufFile): string[] {
  const tokens = metadataArray(file, 'tokenizer.ggml.tokens', isString, 'strings')
  if (tokens === undefined || tokens.length === 0) {
    throw missingTokenizer(
      file,
      'tokenizer.ggml.tokens',
      'has no vocabulary (tokenizer.ggml.tokens is missing or empty).',
    )
  }
  return tokens
}

/** The per-token scores (`tokenizer.ggml.scores`), undefined when absent. */
export function ggufScores(file: GgufFile, tokenCount: number): number[] | undefined {
  const scores = metadataArray(file, 'tokenizer.ggml.scores', isNumber, 'numbers')
  if (scores !== undefined && scores.length !== tokenCount)
    throw mismatchedLength(file, 'tokenizer.ggml.scores', scores.length, tokenCount)
  return scores
}

/**
 * The type of each token (`tokenizer.ggml.token_type`); without the field, `fallback(id)` decides. Values outside
 * llama.cpp's list count as normal, as llama.cpp treats them.
 */
export function ggufTokenTypes(
  file: GgufFile,
  tokenCount: number,
  fallback: (id: number) => GgufTokenType,
): GgufTokenType[] {
  const rawTypes = metadataArray(file, 'tokenizer.ggml.token_type', isNumber, 'integers')
  if (rawTypes !== undefined && rawTypes.length !== tokenCount) {
    throw mismatchedLength(file, 'tokenizer.ggml.token_type', rawTypes.length, tokenCount)
  }
  return Array.from({ length: tokenCount }, (_, id): GgufTokenType => {
    const type = rawTypes?.[id]
    return type === undefined ? fallback(id) : (tokenTypes[type] ?? 'normal')
  })
}

/** The merge rules (`tokenizer.ggml.merges`, "left right" strings), undefined when absent. */
export function ggufMerges(file: GgufFile): string[] | undefined {
  return metadataArray(file, 'tokenizer.ggml.merges', isString, 'strings')
}
