import { describe } from 'vitest'

import { jsonlFormat } from './formats.ts'
import { fuzzTest } from './suite.ts'

describe('fuzz: JSONL demonstration sets', () => {
  fuzzTest(jsonlFormat, 60, 'JSONL demonstration sets')
})
