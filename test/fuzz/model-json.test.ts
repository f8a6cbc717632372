import { describe } from 'vitest'

import { fuzzTest } from './suite.ts'

describe('fuzz: config and tokenizer JSON files', () => {
  fuzzTest('model-json', 'config and tokenizer JSON files')
})
