import { describe } from 'vitest'

import { controlVectorFormat } from './formats.ts'
import { fuzzTest } from './suite.ts'

describe('fuzz: GGUF control vectors', () => {
  fuzzTest(controlVectorFormat, 60, 'GGUF control vectors')
})
