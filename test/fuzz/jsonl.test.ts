import { describe } from 'vitest'

import { fuzzTest } from './suite.ts'

describe('fuzz: JSONL demonstration sets', () => {
  fuzzTest('jsonl', 'JSONL demonstration sets')
})
