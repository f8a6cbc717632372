import type { TokenizerFiles } from '../../checkpoint.ts'
import { buildBytePairTokenizerFiles } from '../byte-level-bpe-tokenizer.ts'
import { buildSentencePieceTokenizerFiles } from '../sentencepiece-tokenizer.ts'
import { bytePairVocabularyFromGguf } from './byte-pair-vocabulary.ts'
import type { GgufFile } from './gguf-file.ts'
import { metadataString } from './metadata-fields.ts'
import { sentencePieceVocabularyFromGguf } from './tokenizer.ts'
import { missingTokenizer } from './tokenizer-fields.ts'

/** A GGUF's embedded tokenizer, converted to Hugging Face files. */
export interface EmbeddedTokenizer {
  files: TokenizerFiles
  /** Entries of tokenizer.ggml.tokens: the model's vocabulary size. */
  tokenCount: number
  /** The text of the special tokens chat templates use. */
  bosToken: string | undefined
  eosToken: string | undefined
  chatTemplate: string | undefined
  /** What the tokenizer is, for the import summary, e.g. "byte-level BPE (llama-bpe)". */
  description: string
}

/**
 * Reads the tokenizer a GGUF embeds (`tokenizer.ggml.model` "llama": SentencePiece BPE with byte fallback; "gpt2":
 * byte-level BPE with the pre-tokenizer named by `tokenizer.ggml.pre`) and builds its Hugging Face tokenizer files.
 * Anything else is refused with a TillerError('missing-tokenizer') naming the field and its value.
 */
export function embeddedTokenizerFromGguf(file: GgufFile): EmbeddedTokenizer {
  const model = metadataString(file, 'tokenizer.ggml.model')
  if (model === undefined) {
    throw missingTokenizer(
      file,
      'tokenizer.ggml.model',
      'has no embedded tokenizer (tokenizer.ggml.model is missing). Convert the model again with a llama.cpp converter that embeds the vocabulary.',
    )
  }
  if (model === 'llama') {
    const vocabulary = sentencePieceVocabularyFromGguf(file)
    const piece = (id: number | undefined) => (id === undefined ? undefined : vocabulary.pieces[id])
    return {
      files: buildSentencePieceTokenizerFiles(vocabulary),
      tokenCount: vocabulary.pieces.length,
      bosToken: piece(vocabulary.bosId),
      eosToken: piece(vocabulary.eosId),
      chatTemplate: vocabulary.chatTemplate,
      description: vocabulary.addSpacePrefix
        ? 'llama (SentencePiece BPE)'
        : 'llama (SentencePiece BPE, no space prefix)',
    }
  }
  if (model === 'gpt2') {
    const vocabulary = bytePairVocabularyFromGguf(file)
    const token = (id: number | undefined) => (id === undefined ? undefined : vocabulary.tokens[id])
    return {
      files: buildBytePairTokenizerFiles(vocabulary),
      tokenCount: vocabulary.tokens.length,
      bosToken: token(vocabulary.bosId),
      eosToken: token(vocabulary.eosId),
      chatTemplate: vocabulary.chatTemplate,
      description: `byte-level BPE (${vocabulary.preType})`,
    }
  }
  throw missingTokenizer(
    file,
    'tokenizer.ggml.model',
    `tokenizer.ggml.model is "${model}"; Tiller converts SentencePiece ("llama") and byte-level BPE ("gpt2") ` +
      `tokenizers only. Use the model's Hugging Face ONNX export, which ships its tokenizer.json, instead.`,
  )
}
