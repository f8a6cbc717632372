import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

import { GGMLQuantizationType } from '@huggingface/gguf'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'

import { writeGgufFile } from '../../src/main/core/gguf/writer.ts'
import type { LlamaCheckpoint, LlamaConfig } from '../../src/main/core/models/checkpoint.ts'
import { exportModelFolder } from '../../src/main/core/models/exporter/index.ts'
import { importGguf } from '../../src/main/core/models/importers/gguf/import-gguf.ts'
import type { GgufImport } from '../../src/main/core/models/importers/gguf/import-gguf.ts'
import { forwardBatch } from '../../src/main/core/runtime/forward.ts'
import { generate } from '../../src/main/core/runtime/generate.ts'
import { logitsAsFloat32 } from '../../src/main/core/runtime/logits.ts'
import { loadModel } from '../../src/main/core/runtime/model.ts'
import { referenceForward, referenceGreedy } from '../helpers/reference-llama.ts'
import { checkpointToGguf, randomCheckpoint, tinyConfig } from './helpers/gguf-model.ts'
import type { GgufModelOptions } from './helpers/gguf-model.ts'

/**
 * Random llamas whose rows are whole 256-element super-blocks (hidden 256), written with their matrices in each
 * block type (norms F32, as llama.cpp writes them) and imported. Dequantization must be the only loss: an import
 * equals the float32 import of the same dequantized weights, and its logits stay within each type's tolerance of
 * the unquantized model's. One model holding every type at once (as llama-quantize's mixes hold several) is also
 * exported, loaded and run: the graph must reproduce the reference forward pass and greedy tokens of its weights.
 */
const singleLayer: LlamaConfig = {
  ...tinyConfig,
  hiddenSize: 256,
  intermediateSize: 256,
  headDim: 64,
  numLayers: 1,
}
const twoLayers: LlamaConfig = { ...singleLayer, numLayers: 2 }
const prompt = [1, 259, 262, 270, 5, 290, 299, 42]
const newTokens = 6

/** A random checkpoint with matrices scaled to about 1 / sqrt(fan-in), as in trained models. */
function trainedScaleCheckpoint(config: LlamaConfig, seed: number): LlamaCheckpoint {
  const checkpoint = randomCheckpoint(config, seed)
  for (const weight of checkpoint.weights.values()) {
    if (weight.shape.length === 2) weight.data.forEach((value, index) => (weight.data[index] = value * 0.3))
  }
  return checkpoint
}

// Relative RMS gap of the logits to the unquantized model's, about 1.4x what is measured here (printed): about
// twice each type's relative weight error, which the layers compound.
const logitBounds: [string, GGMLQuantizationType, number][] = [
  ['Q8_0', GGMLQuantizationType.Q8_0, 0.014],
  ['Q6_K', GGMLQuantizationType.Q6_K, 0.05],
  ['Q5_0', GGMLQuantizationType.Q5_0, 0.11],
  ['Q5_1', GGMLQuantizationType.Q5_1, 0.11],
  ['Q5_K', GGMLQuantizationType.Q5_K, 0.11],
  ['Q4_0', GGMLQuantizationType.Q4_0, 0.24],
  ['Q4_1', GGMLQuantizationType.Q4_1, 0.24],
  ['Q4_K', GGMLQuantizationType.Q4_K, 0.24],
  ['IQ4_NL', GGMLQuantizationType.IQ4_NL, 0.24],
  ['IQ4_XS', GGMLQuantizationType.IQ4_XS, 0.24],
  ['Q3_K', GGMLQuantizationType.Q3_K, 0.45],
  ['Q2_K', GGMLQuantizationType.Q2_K, 0.8],
]

function relativeGap(actual: Float32Array, expected: Float32Array): number {
  let gap = 0
  let size = 0
  expected.forEach((value, index) => {
    gap += (value - (actual[index] as number)) ** 2
    size += value * value
  })
  return Math.sqrt(gap / size)
}

function sameWeights(first: LlamaCheckpoint, second: LlamaCheckpoint): string[] {
  const differing: string[] = []
  for (const [name, weight] of first.weights) {
    const other = second.weights.get(name)?.data
    if (other === undefined || !weight.data.every((value, index) => Object.is(value, other[index]))) {
      differing.push(name)
    }
  }
  return differing
}

describe('GGUF import of every block type', () => {
  let folder = ''
  const measured: string[] = []

  async function importWith(
    name: string,
    original: LlamaCheckpoint,
    options: GgufModelOptions,
  ): Promise<GgufImport> {
    const path = join(folder, `${name}.gguf`)
    await writeGgufFile(path, checkpointToGguf(original, options))
    return importGguf(path)
  }

  /** The float32 GGUF import of an import's (dequantized) weights. */
  async function importAsFloat(name: string, imported: GgufImport): Promise<GgufImport> {
    const tensors = checkpointToGguf(imported.checkpoint).tensors.map((tensor) => [tensor.name, tensor])
    return importWith(`${name}-as-f32`, imported.checkpoint, { tensors: Object.fromEntries(tensors) })
  }

  beforeAll(async () => {
    folder = await mkdtemp(join(tmpdir(), 'tiller-gguf-block-types-'))
  })
  afterAll(async () => {
    if (folder !== '') await rm(folder, { recursive: true, force: true })
    process.stdout.write(`relative logit gap to the unquantized model: ${measured.join(', ')}\n`)
  })

  const original = trainedScaleCheckpoint(singleLayer, 21)
  const originalLogits = referenceForward(original, prompt)
  // The gap to a model with other random weights: what "unrelated" looks like.
  const unrelatedGap = relativeGap(
    referenceForward(trainedScaleCheckpoint(singleLayer, 22), prompt),
    originalLogits,
  )

  for (const [label, type, bound] of logitBounds) {
    it(`${label}: the import equals the float32 import of its dequantized weights, logits within ${bound}`, async () => {
      const imported = await importWith(label, original, { matrixType: type })
      expect(imported.source.dequantized).toBe(true)
      expect(imported.source.dequantizedTypes).toEqual([label])
      expect(imported.checkpoint.config).toEqual(singleLayer)
      const asFloat = await importAsFloat(label, imported)
      expect(asFloat.source.dequantized).toBe(false)
      expect(sameWeights(imported.checkpoint, asFloat.checkpoint)).toEqual([])
      const logits = referenceForward(imported.checkpoint, prompt)
      expect(Array.from(referenceForward(asFloat.checkpoint, prompt))).toEqual(Array.from(logits))

      const gap = relativeGap(logits, originalLogits)
      measured.push(`${label} ${gap.toFixed(4)}`)
      expect(gap).toBeGreaterThan(0)
      expect(gap).toBeLessThan(bound)
      expect(gap).toBeLessThan(unrelatedGap / 2)
    })
  }

  it('a model with every block type at once imports, exports, loads and generates as its weights do', async () => {
    const mixed = trainedScaleCheckpoint(twoLayers, 31)
    const matrices = checkpointToGguf(mixed).tensors.filter((tensor) => tensor.shape.length === 2)
    expect(matrices.length).toBeGreaterThanOrEqual(logitBounds.length)
    const tensorTypes = Object.fromEntries(
      matrices.map((tensor, index) => [
        tensor.name,
        (logitBounds[index % logitBounds.length] as (typeof logitBounds)[number])[1],
      ]),
    )
    const imported = await importWith('mixed', mixed, { tensorTypes })
    expect(imported.source.dequantizedTypes.sort()).toEqual(logitBounds.map(([label]) => label).sort())
    const asFloat = await importAsFloat('mixed', imported)
    expect(sameWeights(imported.checkpoint, asFloat.checkpoint)).toEqual([])

    const modelFolder = join(folder, 'mixed-onnx')
    await exportModelFolder(imported.checkpoint, imported.tokenizer, modelFolder, { family: 'builder' })
    const model = await loadModel(modelFolder, { provider: 'cpu' })
    try {
      const { outputs } = await forwardBatch(model, [prompt], { fetch: ['logits'] })
      const tensor = outputs['logits']
      if (tensor === undefined) throw new Error('no logits')
      const expected = referenceForward(asFloat.checkpoint, prompt)
      expect(relativeGap(logitsAsFloat32(tensor), expected)).toBeLessThan(1e-5)
      const [result] = await generate(model, {
        rows: [prompt],
        options: { maxTokens: newTokens, eosTokenIds: [] },
      })
      expect(result?.generated).toEqual(referenceGreedy(asFloat.checkpoint, prompt, newTokens))
    } finally {
      await model.dispose()
    }
  })
})
