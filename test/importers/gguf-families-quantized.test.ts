import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

import { GGMLQuantizationType } from '@huggingface/gguf'
import * as ort from 'onnxruntime-node'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'

import { writeGgufFile } from '../../src/main/core/gguf/writer.ts'
import type { LlamaConfig } from '../../src/main/core/models/checkpoint.ts'
import { exportModelFolder } from '../../src/main/core/models/exporter/index.ts'
import { importGguf } from '../../src/main/core/models/importers/gguf/import-gguf.ts'
import { randomCheckpoint } from '../../src/main/core/models/random-checkpoint.ts'
import { BatchRunner, maxDifference } from '../exporter/batch-runner.ts'
import { referenceForward, referenceGreedy } from '../helpers/reference-llama.ts'
import { familyCheckpointToGguf, type FamilyArchitecture } from './helpers/family-gguf.ts'

/**
 * Each family imported from a quantized GGUF (Q8_0, Q4_0 matrices; norms and biases F32 as llama.cpp leaves them):
 * fused phi3 tensors are split after dequantization, so every family's quantized import computes like its float32
 * import within the type's error (Q8_0: the same greedy tokens), and its exported graph computes exactly the
 * dequantized weights.
 */

const prompt = [1, 259, 262, 270, 5, 290, 299, 42]

const base: LlamaConfig = {
  vocabSize: 300,
  hiddenSize: 64,
  intermediateSize: 96,
  numLayers: 2,
  numHeads: 4,
  numKeyValueHeads: 2,
  headDim: 16,
  rmsNormEps: 1e-6,
  ropeTheta: 10000,
  maxPositionEmbeddings: 64,
  tieWordEmbeddings: false,
  bosTokenId: 1,
  eosTokenId: 2,
}

/** What every Gemma GGUF configures (gemma-config.ts), at llama.cpp's default soft-caps for gemma2. */
const gemmaShared: Partial<LlamaConfig> = {
  tieWordEmbeddings: true,
  slidingWindow: 5,
  scaledEmbedding: true,
  hiddenActivation: 'gelu_tanh',
  sandwichNorms: true,
  queryPreAttentionScalar: 16,
}

const families: { architecture: FamilyArchitecture; config: LlamaConfig }[] = [
  { architecture: 'qwen2', config: { ...base, architecture: 'qwen2', attentionBias: true } },
  { architecture: 'qwen3', config: { ...base, architecture: 'qwen3', qkNorm: true } },
  { architecture: 'phi3', config: { ...base, architecture: 'phi3', slidingWindow: 5 } },
  {
    architecture: 'gemma2',
    config: {
      ...base,
      ...gemmaShared,
      architecture: 'gemma2',
      slidingWindowPattern: 2,
      attentionLogitSoftcap: 50,
      finalLogitSoftcap: 30,
    },
  },
  {
    architecture: 'gemma3',
    config: {
      ...base,
      ...gemmaShared,
      architecture: 'gemma3_text',
      qkNorm: true,
      slidingWindowPattern: 6,
      localRopeTheta: 10000,
    },
  },
]

/**
 * Stated tolerance: RMS of the logit gap over the RMS of the float32 logits (the README's GGUF types table measures
 * 0.009 for Q8_0 and 0.16 for Q4_0 on a llama; here qwen2/qwen3/phi3/gemma2/gemma3 measure
 * 0.013/0.021/0.017/0.011/0.011 for Q8_0 and 0.21/0.31/0.29/0.19/0.19 for Q4_0, and an unrelated random model is
 * about 1.4 away).
 */
const relativeGap = { [GGMLQuantizationType.Q8_0]: 0.05, [GGMLQuantizationType.Q4_0]: 0.4 }

function relativeRmsGap(logits: Float32Array, reference: Float32Array): number {
  let gap = 0
  let size = 0
  reference.forEach((value, index) => {
    gap += (value - (logits[index] ?? NaN)) ** 2
    size += value ** 2
  })
  return Math.sqrt(gap / size)
}

let folder = ''
beforeAll(async () => {
  folder = await mkdtemp(join(tmpdir(), 'tiller-gguf-families-quantized-'))
})
afterAll(async () => {
  if (folder !== '') await rm(folder, { recursive: true, force: true })
})

families.forEach(({ architecture, config }, familyIndex) => {
  describe(`${architecture} from a quantized GGUF`, () => {
    const original = randomCheckpoint(config, 60 + familyIndex)
    const reference = referenceForward(original, prompt)
    const unrelated = relativeRmsGap(referenceForward(randomCheckpoint(config, 99), prompt), reference)

    for (const type of [GGMLQuantizationType.Q8_0, GGMLQuantizationType.Q4_0] as const) {
      const typeName = GGMLQuantizationType[type]
      it(`${typeName}: relative RMS logit gap under ${relativeGap[type]}; the export computes the dequantized weights`, async () => {
        const path = join(folder, `${architecture}-${typeName}.gguf`)
        await writeGgufFile(path, familyCheckpointToGguf(original, architecture, { matrixType: type }))
        const imported = await importGguf(path)
        expect(imported.source.dequantizedTypes).toEqual([typeName])
        expect(imported.checkpoint.config).toEqual(config)
        const dequantized = referenceForward(imported.checkpoint, prompt)
        const gap = relativeRmsGap(dequantized, reference)
        expect(gap).toBeGreaterThan(0)
        expect(gap).toBeLessThan(relativeGap[type])
        expect(gap).toBeLessThan(unrelated / 3)
        if (type === GGMLQuantizationType.Q8_0) {
          expect(referenceGreedy(imported.checkpoint, prompt, 4)).toEqual(
            referenceGreedy(original, prompt, 4),
          )
        }
        const out = join(folder, `${architecture}-${typeName}-optimum`)
        await exportModelFolder(imported.checkpoint, imported.tokenizer, out, { family: 'optimum' })
        const session = await ort.InferenceSession.create(join(out, 'onnx', 'model.onnx'))
        try {
          const logits = await new BatchRunner(session, imported.checkpoint.config, 1).step([prompt])
          expect(maxDifference(logits, 0, dequantized, 0, prompt.length, config.vocabSize)).toBeLessThan(1e-4)
        } finally {
          await session.release()
        }
      })
    }
  })
})
