import { describe } from 'vitest'

import { activationFileFormat } from './formats.ts'
import { fuzzTest } from './suite.ts'

describe('fuzz: activation cache files', () => {
  fuzzTest(activationFileFormat, 60, 'activation cache files')
})
