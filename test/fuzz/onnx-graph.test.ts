import { describe } from 'vitest'

import { onnxGraphFormat } from './formats.ts'
import { fuzzTest } from './suite.ts'

describe('fuzz: ONNX decoder graphs', () => {
  fuzzTest(onnxGraphFormat, 60, 'ONNX decoder graphs')
})
