import { describe } from 'vitest'

import { fuzzTest } from './suite.ts'

describe('fuzz: edit files (safetensors)', () => {
  fuzzTest('edit-file', 'edit files (safetensors)')
})
