import { describe, expect, it } from 'vitest'
import { isTillerError } from '../../src/main/core/errors.ts'
import { expectedWeightShapes, type LlamaConfig } from '../../src/main/core/models/checkpoint.ts'
import { randomCheckpoint } from '../../src/main/core/models/random-checkpoint.ts'
import { argmaxRow, referenceForward } from '../helpers/reference-llama.ts'
import { tinyConfig } from '../helpers/tiny-models.ts'

/** The tiny test shape with a vocabulary that is not a multiple of the byte tokenizer's. */
const config: LlamaConfig = { ...tinyConfig, vocabSize: 300 }

describe('randomCheckpoint', () => {
  it('has every expected weight with its shape and is deterministic per seed', () => {
    const first = randomCheckpoint(config, 7)
    const again = randomCheckpoint(config, 7)
    const other = randomCheckpoint(config, 8)
    for (const [name, shape] of expectedWeightShapes(config)) {
      const tensor = first.weights.get(name)
      expect(tensor?.shape, name).toEqual(shape)
      expect(tensor?.data.length).toBe(shape.reduce((a, b) => a * b, 1))
      expect(
        Buffer.from((again.weights.get(name)?.data as Float32Array).buffer).equals(
          Buffer.from((tensor?.data as Float32Array).buffer),
        ),
      ).toBe(true)
    }
    expect(first.weights.size).toBe(expectedWeightShapes(config).size)
    const a = first.weights.get('model.layers.0.mlp.up_proj.weight')?.data
    const b = other.weights.get('model.layers.0.mlp.up_proj.weight')?.data
    expect(a?.[0]).not.toBe(b?.[0])
  })

  it('uses the documented scales', () => {
    const checkpoint = randomCheckpoint(
      { ...config, hiddenSize: 256, intermediateSize: 512, numHeads: 8, numKeyValueHeads: 8, headDim: 32 },
      1,
    )
    const std = (name: string): number => {
      const data = checkpoint.weights.get(name)?.data as Float32Array
      const mean = data.reduce((a, b) => a + b, 0) / data.length
      return Math.sqrt(data.reduce((a, b) => a + (b - mean) ** 2, 0) / data.length)
    }
    expect(std('model.layers.0.self_attn.q_proj.weight')).toBeCloseTo(1 / 16, 2)
    expect(std('model.layers.0.mlp.down_proj.weight')).toBeCloseTo(1 / Math.sqrt(512) / 2, 2)
    expect(std('model.embed_tokens.weight')).toBeCloseTo(2 / 16, 2)
    const norm = checkpoint.weights.get('model.norm.weight')?.data as Float32Array
    expect(norm.reduce((a, b) => a + b, 0) / norm.length).toBeCloseTo(1, 1)
  })

  it('gives O(1) logits whose greedy argmax varies with the context', () => {
    const checkpoint = randomCheckpoint(config, 3)
    const tokens = [1, 40, 77, 123, 200, 15, 99, 250]
    const logits = referenceForward(checkpoint, tokens)
    const mean = logits.reduce((a, b) => a + b, 0) / logits.length
    const std = Math.sqrt(logits.reduce((a, b) => a + (b - mean) ** 2, 0) / logits.length)
    expect(std).toBeGreaterThan(0.5)
    expect(std).toBeLessThan(5)
    const argmaxes = new Set(tokens.map((_, row) => argmaxRow(logits, config.vocabSize, row)))
    expect(argmaxes.size).toBeGreaterThan(2)
  })

  it('refuses impossible configs', () => {
    let caught: unknown
    try {
      randomCheckpoint({ ...config, numKeyValueHeads: 3 }, 1)
    } catch (error) {
      caught = error
    }
    expect(isTillerError(caught, 'invalid-argument')).toBe(true)
    expect(String(caught)).toContain('numKeyValueHeads')
    expect(() => randomCheckpoint({ ...config, headDim: 7 }, 1)).toThrow(/headDim/)
  })
})
