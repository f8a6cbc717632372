import type { SentencePieceVocabulary } from '../sentencepiece-tokenizer.ts'
import type { GgufFile } from './gguf-file.ts'
import { metadataBoolean, metadataInteger, metadataString, metadataTokenId } from './metadata-fields.ts'
import { ggufScores, ggufTokenTypes, ggufTokens, missingTokenizer } from './tokenizer-fields.ts'

/** The SentencePiece vocabulary embedded in a GGUF file (`tokenizer.ggml.*`, model "llama"). */
export function sentencePieceVocabularyFromGguf(file: GgufFile): SentencePieceVocabulary {
  const pieces = ggufTokens(file)
  const scores = ggufScores(file, pieces.length)
  if (scores === undefined) {
    throw missingTokenizer(
      file,
      'tokenizer.ggml.scores',
      'has no token scores (tokenizer.ggml.scores), so the BPE merge order of its SentencePiece tokenizer is unknown.',
    )
  }
  const unknownId = metadataTokenId(file, 'tokenizer.ggml.unknown_token_id') ?? 0
  const bosId = metadataTokenId(file, 'tokenizer.ggml.bos_token_id') ?? 1
  const eosId = metadataTokenId(file, 'tokenizer.ggml.eos_token_id') ?? 2
  const padId = metadataTokenId(file, 'tokenizer.ggml.padding_token_id')
  // Without token types, mark the special ids the way llama.cpp's defaults do.
  const types = ggufTokenTypes(file, pieces.length, (id) =>
    id === unknownId ? 'unknown' : id === bosId || id === eosId ? 'control' : 'normal',
  )
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
