import { describe } from 'vitest'

import { modelJsonFormat } from './formats.ts'
import { fuzzTest } from './suite.ts'

describe('fuzz: config and tokenizer JSON files', () => {
  fuzzTest(modelJsonFormat, 60, 'config and tokenizer JSON files')
})
