import { describe, expect, it } from 'vitest'
import type { LlamaConfig } from '../../src/main/core/models/checkpoint.ts'
import { modelFiles } from '../../src/main/core/models/graph-contract.ts'
import { ropeFrequencyDivisors } from '../../src/main/core/models/exporter/rope-scaling.ts'
import { tinyCheckpoint, tinyConfig, type TinyModelOptions } from '../helpers/tiny-models.ts'
import { referenceForward } from '../helpers/reference-llama.ts'
import { BatchRunner, maxDifference } from './batch-runner.ts'
import { useTinySession } from './tiny-session.ts'

/**
 * The family features of the checkpoint config (q/k/v biases, q/k norms, RoPE scaling, sliding window) in both
 * graph families, against the float64-accumulating reference: prefill, then decode and a multi-token step over
 * the cache. Each feature is checked to change the reference's logits, so a graph that ignored it would fail.
 */

const tolerance = 1e-4
/** float16 weights, activations and cache (as test/exporter/float16.test.ts) */
const halfTolerance = 5e-2
const prompt = [1, 47, 290, 12, 250, 99, 7, 180]
const vocab = tinyConfig.vocabSize

/** What Gemma 2 and 3 share: layer 0 slides (window 3), layer 1 is global. */
const gemmaShared: Partial<LlamaConfig> = {
  sandwichNorms: true,
  scaledEmbedding: true,
  hiddenActivation: 'gelu_tanh',
  slidingWindow: 3,
  slidingWindowPattern: 2,
}

const features: { name: string; config: Partial<LlamaConfig> }[] = [
  { name: 'qwen2: q/k/v biases', config: { architecture: 'qwen2', attentionBias: true } },
  { name: 'qwen3: q/k norms', config: { architecture: 'qwen3', qkNorm: true } },
  {
    // Original context 16: wavelengths 6.3 (blended), 63, 628, 6283 (divided by 8) at head size 8.
    name: 'llama 3.1: llama3 RoPE scaling',
    config: {
      ropeScaling: {
        type: 'llama3',
        factor: 8,
        lowFrequencyFactor: 1,
        highFrequencyFactor: 4,
        originalMaxPositionEmbeddings: 16,
      },
    },
  },
  { name: 'mistral: sliding window of 3', config: { architecture: 'mistral', slidingWindow: 3 } },
  {
    // query_pre_attn_scalar 20 ≠ headDim 8; caps small enough to bend this tiny model's scores and logits.
    name: 'gemma2: soft-capping, query scalar, alternating sliding window, four norms, GELU, scaled embeddings',
    config: {
      architecture: 'gemma2',
      ...gemmaShared,
      queryPreAttentionScalar: 20,
      attentionLogitSoftcap: 2,
      finalLogitSoftcap: 3,
    },
  },
  {
    name: 'gemma3: q/k norms, local RoPE base on sliding layers, linear scaling on global ones',
    config: {
      architecture: 'gemma3_text',
      ...gemmaShared,
      qkNorm: true,
      localRopeTheta: 10000,
      ropeTheta: 1000000,
      ropeScaling: { type: 'linear', factor: 8 },
    },
  },
  {
    // No window mask at all (window ≥ context), but layer 0 keeps the local RoPE base and layer 1 the scaling.
    name: 'gemma3: local RoPE base by pattern without a sliding window',
    config: {
      architecture: 'gemma3_text',
      ...gemmaShared,
      slidingWindow: undefined,
      localRopeTheta: 10000,
      ropeTheta: 1000000,
      ropeScaling: { type: 'linear', factor: 8 },
    },
  },
]

const variants: { label: string; options: Pick<TinyModelOptions, 'family' | 'attention'> }[] = [
  { label: 'builder ONNX Attention', options: { family: 'builder', attention: 'onnx' } },
  { label: 'builder MultiHeadAttention', options: { family: 'builder', attention: 'mha' } },
  { label: 'builder GroupQueryAttention', options: { family: 'builder', attention: 'gqa' } },
  { label: 'optimum', options: { family: 'optimum' } },
]

describe('llama3 RoPE scaling divisors', () => {
  it('keep short wavelengths, divide long ones by the factor and blend between (HF hand case)', () => {
    const divisors = ropeFrequencyDivisors({
      ...tinyConfig,
      ropeScaling: {
        type: 'llama3',
        factor: 8,
        lowFrequencyFactor: 1,
        highFrequencyFactor: 4,
        originalMaxPositionEmbeddings: 16,
      },
    })
    // frequency 1: wavelength 2π ≈ 6.283 between 16/4 and 16/1; smooth = (16/2π − 1)/3, divisor 1/((1−smooth)/8 + smooth)
    const smooth = (16 / (2 * Math.PI) - 1) / 3
    expect(divisors[0]).toBeCloseTo(1 / ((1 - smooth) / 8 + smooth), 12)
    expect(Array.from(divisors.subarray(1))).toEqual([8, 8, 8])
    const unscaled = ropeFrequencyDivisors({ ...tinyConfig, headDim: 8 })
    expect(Array.from(unscaled)).toEqual([1, 1, 1, 1])
  })
})

for (const feature of features) {
  describe(feature.name, () => {
    it('changes the reference logits (the feature is active in this model)', () => {
      const options = { config: feature.config, seed: 5 }
      const withFeature = tinyCheckpoint(options)
      const plainConfig: LlamaConfig = {
        ...withFeature.config,
        attentionBias: undefined,
        qkNorm: undefined,
        ropeScaling: undefined,
        slidingWindow: undefined,
        slidingWindowPattern: undefined,
        localRopeTheta: undefined,
        scaledEmbedding: undefined,
        hiddenActivation: undefined,
        sandwichNorms: undefined,
        queryPreAttentionScalar: undefined,
        attentionLogitSoftcap: undefined,
        finalLogitSoftcap: undefined,
      }
      const gap = maxDifference(
        referenceForward(withFeature, prompt),
        0,
        referenceForward({ ...withFeature, config: plainConfig }, prompt),
        0,
        prompt.length,
        vocab,
      )
      expect(gap).toBeGreaterThan(1e-2)
    })
    for (const family of ['builder', 'optimum'] as const) {
      describe(`float16 ${family}`, () => {
        const tiny = useTinySession(
          { family, dtype: 'float16', config: feature.config, seed: 5 },
          modelFiles.graphFloat16,
        )
        it('prefill and decode stay within half precision of the reference', async () => {
          const expected = referenceForward(tiny.checkpoint, prompt)
          const runner = new BatchRunner(tiny.session, tiny.checkpoint.config, 1, 'float16')
          const prefill = await runner.step([prompt.slice(0, 6)])
          expect(maxDifference(prefill, 0, expected, 0, 6, vocab)).toBeLessThan(halfTolerance)
          const rest = await runner.step([prompt.slice(6)])
          expect(maxDifference(rest, 0, expected, 6, 2, vocab)).toBeLessThan(halfTolerance)
        })
      })
    }
    for (const variant of variants) {
      describe(variant.label, () => {
        const tiny = useTinySession({ ...variant.options, config: feature.config, seed: 5 })
        it('prefill, decode and a multi-token step over the cache equal the reference', async () => {
          const expected = referenceForward(tiny.checkpoint, prompt)
          const prefill = await new BatchRunner(tiny.session, tiny.checkpoint.config, 1).step([prompt])
          expect(maxDifference(prefill, 0, expected, 0, prompt.length, vocab)).toBeLessThan(tolerance)
          const runner = new BatchRunner(tiny.session, tiny.checkpoint.config, 1)
          await runner.step([prompt.slice(0, 4)])
          const fifth = await runner.step([[prompt[4] ?? 0]])
          expect(maxDifference(fifth, 0, expected, 4, 1, vocab)).toBeLessThan(tolerance)
          const rest = await runner.step([prompt.slice(5)])
          expect(maxDifference(rest, 0, expected, 5, 3, vocab)).toBeLessThan(tolerance)
        })
      })
    }
  })
}
