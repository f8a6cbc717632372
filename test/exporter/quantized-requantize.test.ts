import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

import { afterAll, beforeAll, describe, expect, it } from 'vitest'

import { byteTokenizerFiles } from '../../src/main/core/models/byte-tokenizer.ts'
import type { LlamaCheckpoint } from '../../src/main/core/models/checkpoint.ts'
import { exportModelFolder } from '../../src/main/core/models/exporter/index.ts'
import {
  dequantizeLinearWeight,
  quantizeLinearWeight,
} from '../../src/main/core/models/exporter/quantize-blocks.ts'
import { forwardBatch } from '../../src/main/core/runtime/forward.ts'
import { loadModel } from '../../src/main/core/runtime/model.ts'
import { tinyCheckpoint } from '../helpers/tiny-models.ts'

/**
 * Requantized q4/q8 exports (float weights, per-block zero points that differ from block to block): ONNX Runtime's
 * MatMulNBits must compute with exactly the weights dequantizeLinearWeight describes, so the q4/q8 graph gives
 * the logits of a float32 export of those dequantized weights (float compute; int8 compute: quantized-int8.test.ts).
 */
const rows = [[5, 6, 7, 8, 9, 10]]

async function logitsOf(folder: string): Promise<Float32Array> {
  const model = await loadModel(folder, { provider: 'cpu' })
  try {
    const result = await forwardBatch(model, rows, { fetch: ['logits'] })
    return Float32Array.from(result.outputs.logits?.data as Float32Array)
  } finally {
    await model.dispose()
  }
}

describe.each(['builder', 'optimum'] as const)('requantized exports, %s family', (family) => {
  let scratch = ''
  beforeAll(async () => {
    scratch = await mkdtemp(join(tmpdir(), 'tiller-requantize-'))
  })
  afterAll(async () => {
    if (scratch !== '') await rm(scratch, { recursive: true, force: true })
  })

  it.each([4, 8] as const)('q%i computes the float32 export of its dequantized weights', async (bits) => {
    // hidden 64, intermediate 96: two and three blocks per row, so zero points pack across nibbles.
    const original = tinyCheckpoint({
      config: { hiddenSize: 64, intermediateSize: 96, headDim: 16 },
      seed: 5,
    })
    const dequantized: LlamaCheckpoint = { config: original.config, weights: new Map(original.weights) }
    for (const [name, tensor] of original.weights) {
      if (!name.endsWith('_proj.weight') && name !== 'model.embed_tokens.weight') continue
      // The embedding too: q4/q8 exports gather it from the blocks the tied head multiplies with.
      const values = dequantizeLinearWeight(quantizeLinearWeight(tensor, bits, false))
      dequantized.weights.set(name, { ...tensor, data: values })
    }
    const tokenizer = byteTokenizerFiles(original.config.vocabSize)
    const quantizedFolder = join(scratch, `q${bits}`)
    const report = await exportModelFolder(original, tokenizer, quantizedFolder, {
      family,
      dtype: bits === 4 ? 'q4' : 'q8',
      compute: 'float32',
    })
    expect(report.requantizedTensors).toBe(7 * original.config.numLayers + 1)
    const floatFolder = join(scratch, `float-${bits}`)
    await exportModelFolder(dequantized, tokenizer, floatFolder, { family })
    const quantized = await logitsOf(quantizedFolder)
    const reference = await logitsOf(floatFolder)
    const gap = quantized.reduce(
      (worst, value, at) => Math.max(worst, Math.abs(value - (reference[at] ?? NaN))),
      0,
    )
    expect(gap).toBeLessThanOrEqual(1e-4)
  })
})
