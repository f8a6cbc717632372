import { describe } from 'vitest'

import { editFileFormat } from './formats.ts'
import { fuzzTest } from './suite.ts'

describe('fuzz: edit files (safetensors)', () => {
  fuzzTest(editFileFormat, 60, 'edit files (safetensors)')
})
