import { describe } from 'vitest'

import { fuzzTest } from './suite.ts'

describe('fuzz: GGUF control vectors', () => {
  fuzzTest('control-vector', 'GGUF control vectors')
})
