import { describe, expect, it } from 'vitest'

import { isTillerError } from '../../src/main/core/errors.ts'
import type { LlamaConfig } from '../../src/main/core/models/checkpoint.ts'
import { gemmaFeatures } from '../../src/main/core/models/importers/gguf/gemma-config.ts'
import type { GgufFile } from '../../src/main/core/models/importers/gguf/gguf-file.ts'
import { randomCheckpoint } from '../../src/main/core/models/random-checkpoint.ts'
import { maxDifference } from '../exporter/batch-runner.ts'
import { referenceForward } from '../helpers/reference-llama.ts'

/**
 * Gemma's config from GGUF metadata, as llama.cpp reads it (defaults, the 27B query scale, refusals naming the
 * field), and each Gemma feature of the reference forward pass changes the logits of a tiny model on its own, so
 * the graph-equals-reference tests (gguf-families, family-features) check every one of them.
 */

function metadataFile(entries: Record<string, number>): GgufFile {
  return {
    path: '/models/gemma.gguf',
    fileSize: 0,
    version: 3,
    metadata: new Map(Object.entries(entries)),
    typedMetadata: {} as GgufFile['typedMetadata'],
    tensors: new Map(),
    alignment: 32,
  }
}

const gemma2Sizes = { numLayers: 26, hiddenSize: 2304, numHeads: 8, headDim: 256 }

describe('gemmaFeatures', () => {
  it('gemma2 without the soft-capping keys gets llama.cpp defaults 50 and 30, pattern 2, query scale headDim', () => {
    expect(gemmaFeatures(metadataFile({}), 'gemma2', gemma2Sizes)).toEqual({
      slidingWindowPattern: 2,
      scaledEmbedding: true,
      hiddenActivation: 'gelu_tanh',
      sandwichNorms: true,
      queryPreAttentionScalar: 256,
      attentionLogitSoftcap: 50,
      finalLogitSoftcap: 30,
    })
  })

  it('the 27B models scale queries by hidden / heads (Hugging Face: 144 for Gemma 2, 168 for Gemma 3)', () => {
    const gemma2 = gemmaFeatures(metadataFile({}), 'gemma2', {
      numLayers: 46,
      hiddenSize: 4608,
      numHeads: 32,
      headDim: 128,
    })
    expect(gemma2.queryPreAttentionScalar).toBe(144)
    const gemma3 = gemmaFeatures(metadataFile({}), 'gemma3', {
      numLayers: 62,
      hiddenSize: 5376,
      numHeads: 32,
      headDim: 128,
    })
    expect(gemma3.queryPreAttentionScalar).toBe(168)
  })

  it('gemma3: pattern 6, sliding layers on RoPE base 10000 unless freq_base_swa says otherwise, no caps', () => {
    const features = gemmaFeatures(metadataFile({}), 'gemma3', { ...gemma2Sizes, numLayers: 34 })
    expect(features.slidingWindowPattern).toBe(6)
    expect(features.localRopeTheta).toBe(10000)
    expect(features.attentionLogitSoftcap).toBeUndefined()
    const custom = gemmaFeatures(
      metadataFile({ 'gemma3.rope.freq_base_swa': 20000, 'gemma3.attention.sliding_window_pattern': 4 }),
      'gemma3',
      { ...gemma2Sizes, numLayers: 34 },
    )
    expect(custom.localRopeTheta).toBe(20000)
    expect(custom.slidingWindowPattern).toBe(4)
  })

  it('refuses a non-finite cap and a pattern of 0, naming the field', () => {
    const refused = (entries: Record<string, number>, field: string): void => {
      let caught: unknown
      try {
        gemmaFeatures(metadataFile(entries), 'gemma2', gemma2Sizes)
      } catch (error) {
        caught = error
      }
      expect(isTillerError(caught) && caught.subject).toBe(`/models/gemma.gguf: ${field}`)
    }
    refused({ 'gemma2.final_logit_softcapping': Number.POSITIVE_INFINITY }, 'gemma2.final_logit_softcapping')
    refused({ 'gemma2.attention.sliding_window_pattern': 0 }, 'gemma2.attention.sliding_window_pattern')
  })

  it('is empty for other architectures', () => {
    expect(gemmaFeatures(metadataFile({}), 'llama', gemma2Sizes)).toEqual({})
  })
})

describe('each Gemma feature changes the reference logits on its own', () => {
  const config: LlamaConfig = {
    vocabSize: 300,
    hiddenSize: 32,
    intermediateSize: 64,
    numLayers: 2,
    numHeads: 4,
    numKeyValueHeads: 2,
    headDim: 16,
    rmsNormEps: 1e-6,
    ropeTheta: 1000000,
    maxPositionEmbeddings: 64,
    tieWordEmbeddings: true,
    bosTokenId: 1,
    eosTokenId: 2,
    architecture: 'gemma3_text',
    sandwichNorms: true,
    scaledEmbedding: true,
    hiddenActivation: 'gelu_tanh',
    slidingWindow: 3,
    slidingWindowPattern: 2,
    localRopeTheta: 10000,
    queryPreAttentionScalar: 16,
    attentionLogitSoftcap: 2,
    finalLogitSoftcap: 3,
  }
  const checkpoint = randomCheckpoint(config, 11)
  const prompt = [1, 40, 120, 7, 250, 33, 90, 14]
  const full = referenceForward(checkpoint, prompt)
  const without: [string, Partial<LlamaConfig>][] = [
    ['scaled embeddings', { scaledEmbedding: undefined }],
    ['four norms (post-attention, pre- and post-feedforward)', { sandwichNorms: undefined }],
    ['tanh GELU (against SiLU)', { hiddenActivation: undefined }],
    ['sliding window on layer 0', { slidingWindow: undefined }],
    ['global layer 1 (pattern)', { slidingWindowPattern: undefined }],
    ['local RoPE base', { localRopeTheta: undefined }],
    ['query_pre_attn_scalar', { queryPreAttentionScalar: 40 }],
    ['attention soft-capping', { attentionLogitSoftcap: undefined }],
    ['final soft-capping', { finalLogitSoftcap: undefined }],
  ]
  for (const [feature, change] of without) {
    it(feature, () => {
      const changed = { ...config, ...change }
      const logits = referenceForward({ ...checkpoint, config: changed }, prompt)
      expect(maxDifference(logits, 0, full, 0, prompt.length, config.vocabSize)).toBeGreaterThan(1e-2)
    })
  }
})
