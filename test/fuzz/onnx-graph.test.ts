import { describe } from 'vitest'

import { fuzzTest } from './suite.ts'

describe('fuzz: ONNX decoder graphs', () => {
  fuzzTest('onnx-graph', 'ONNX decoder graphs')
})
