import { describe } from 'vitest'

import { fuzzTest } from './suite.ts'

describe('fuzz: GGUF models', () => {
  fuzzTest('gguf-model', 'GGUF models')
})
