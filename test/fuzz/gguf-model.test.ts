import { describe } from 'vitest'

import { ggufModelFormat } from './formats.ts'
import { fuzzTest } from './suite.ts'

describe('fuzz: GGUF models', () => {
  fuzzTest(ggufModelFormat, 60, 'GGUF models')
})
