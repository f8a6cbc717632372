import { describe } from 'vitest'

import { fuzzTest } from './suite.ts'

describe('fuzz: activation cache files', () => {
  fuzzTest('activations', 'activation cache files')
})
