import { TillerError } from '../../../errors.ts'
import { bytePairPreTokenizer, supportedPreTokenizerTypes } from '../bpe-pre-tokenizers.ts'
import type { BytePairTokenRole, BytePairVocabulary } from '../byte-level-bpe-tokenizer.ts'
import type { GgufFile } from './gguf-file.ts'
import { metadataBoolean, metadataInteger, metadataString, metadataTokenId } from './metadata-fields.ts'
import { ggufMerges, ggufTokenTypes, ggufTokens, missingTokenizer } from './tokenizer-fields.ts'

// llama.cpp's special token ids for a "gpt2" vocabulary whose GGUF does not name them.
const defaultBosId = 11
const defaultEosId = 11

function corrupt(file: GgufFile, field: string, detail: string): TillerError {
  return new TillerError(
    'file-corrupt',
    `${file.path}: ${detail} The file is damaged; convert the model again.`,
    { subject: `${file.path}: ${field}` },
  )
}

/** "left right" merge strings split at the first space after the first character, as llama.cpp reads them. */
function parseMerges(file: GgufFile, merges: readonly string[]): [string, string][] {
  return merges.map((merge, index): [string, string] => {
    const space = merge.indexOf(' ', 1)
    if (space < 0) {
      throw corrupt(
        file,
        'tokenizer.ggml.merges',
        `metadata field "tokenizer.ggml.merges" entry ${index} (${JSON.stringify(merge.slice(0, 40))}) is not two tokens separated by a space.`,
      )
    }
    return [merge.slice(0, space), merge.slice(space + 1)]
  })
}

function tokenIdWithin(id: number | undefined, tokenCount: number): number | undefined {
  return id !== undefined && id < tokenCount ? id : undefined
}

/** The byte-level BPE vocabulary embedded in a GGUF file (`tokenizer.ggml.*`, model "gpt2"). */
export function bytePairVocabularyFromGguf(file: GgufFile): BytePairVocabulary {
  const preType = metadataString(file, 'tokenizer.ggml.pre') ?? 'default'
  const preTokenizer = bytePairPreTokenizer(preType)
  if (preTokenizer === undefined) {
    throw missingTokenizer(
      file,
      'tokenizer.ggml.pre',
      `tokenizer.ggml.pre is "${preType}", a byte-level BPE pre-tokenizer Tiller does not know ` +
        `(it imports ${supportedPreTokenizerTypes.join(', ')}). Use the model's Hugging Face ONNX export instead.`,
    )
  }
  const tokens = ggufTokens(file)
  const rawMerges = ggufMerges(file)
  if (rawMerges === undefined) {
    throw missingTokenizer(
      file,
      'tokenizer.ggml.merges',
      'has a byte-level BPE tokenizer without merges (tokenizer.ggml.merges is missing), so its tokens cannot be rebuilt.',
    )
  }
  const types = ggufTokenTypes(file, tokens.length, () => 'normal')
  // Byte tokens belong to SentencePiece vocabularies; in a byte-level vocabulary every byte is a normal token.
  const roles = types.map((type): BytePairTokenRole => (type === 'byte' ? 'normal' : type))
  const addBos = metadataBoolean(file, 'tokenizer.ggml.add_bos_token', preTokenizer.addBosByDefault)
  const addEos = metadataBoolean(file, 'tokenizer.ggml.add_eos_token', false)
  // An id the file does not name falls back to llama.cpp's default only where a token must be added; otherwise
  // the tokenizer has no such token (Qwen's GGUFs may name no BOS), rather than a comma standing in for one.
  const bosId = tokenIdWithin(
    metadataTokenId(file, 'tokenizer.ggml.bos_token_id') ?? (addBos ? defaultBosId : undefined),
    tokens.length,
  )
  const eosId = tokenIdWithin(
    metadataTokenId(file, 'tokenizer.ggml.eos_token_id') ?? (addEos ? defaultEosId : undefined),
    tokens.length,
  )
  for (const [add, id, field] of [
    [addBos, bosId, 'bos'],
    [addEos, eosId, 'eos'],
  ] as const) {
    if (add && id === undefined) {
      throw corrupt(
        file,
        `tokenizer.ggml.${field}_token_id`,
        `tokenizer.ggml.add_${field}_token is true, but tokenizer.ggml.${field}_token_id names no token of the vocabulary.`,
      )
    }
  }
  return {
    tokens,
    roles,
    merges: parseMerges(file, rawMerges),
    preType,
    preTokenizer,
    bosId,
    eosId,
    padId: tokenIdWithin(metadataTokenId(file, 'tokenizer.ggml.padding_token_id'), tokens.length),
    unknownId: tokenIdWithin(metadataTokenId(file, 'tokenizer.ggml.unknown_token_id'), tokens.length),
    addBos,
    addEos,
    modelMaxLength: metadataInteger(file, 'llama.context_length', 2048),
    chatTemplate: metadataString(file, 'tokenizer.chat_template'),
  }
}
