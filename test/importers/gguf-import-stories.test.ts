import { describe, expect, it } from 'vitest'

import { expectedWeightShapes } from '../../src/main/core/models/checkpoint.ts'
import { importGguf } from '../../src/main/core/models/importers/gguf/import-gguf.ts'
import { readStoriesGolden, requireFixture, storiesGgufPath } from './helpers/fixtures.ts'
import { referenceForward, referenceGreedy } from '../helpers/reference-llama.ts'

function maximumDifference(actual: Float32Array, expected: readonly number[]): number {
  expect(actual.length).toBe(expected.length)
  return expected.reduce(
    (worst, value, index) => Math.max(worst, Math.abs((actual[index] ?? NaN) - value)),
    0,
  )
}

describe('GGUF import of stories260K', () => {
  it('reads the config from the metadata', async () => {
    const { checkpoint, source } = await importGguf(requireFixture(storiesGgufPath))
    expect(checkpoint.config).toEqual({
      vocabSize: 512,
      hiddenSize: 64,
      intermediateSize: 172,
      numLayers: 5,
      numHeads: 8,
      numKeyValueHeads: 4,
      headDim: 8,
      rmsNormEps: 1e-5,
      ropeTheta: 10000,
      maxPositionEmbeddings: 2048,
      tieWordEmbeddings: true,
      bosTokenId: 1,
      eosTokenId: 2,
    })
    expect(source).toMatchObject({
      version: 3,
      architecture: 'llama',
      tensorCount: 48,
      tensorTypes: { F32: 48 },
      dequantized: false,
      classifier: 'tied: output.weight equals token_embd.weight',
    })
  })

  it('produces every expected weight with its Hugging Face shape', async () => {
    const { checkpoint } = await importGguf(requireFixture(storiesGgufPath))
    const expected = expectedWeightShapes(checkpoint.config)
    expect([...checkpoint.weights.keys()].sort()).toEqual([...expected.keys()].sort())
    for (const [name, shape] of expected) {
      const tensor = checkpoint.weights.get(name)
      expect({ name, shape: tensor?.shape, dtype: tensor?.dtype }).toEqual({ name, shape, dtype: 'float32' })
      expect(tensor?.data.length).toBe(shape.reduce((product, size) => product * size, 1))
    }
  })

  it('matches the golden logits at every prompt position (rotate_half forward on the imported weights)', async () => {
    const { checkpoint } = await importGguf(requireFixture(storiesGgufPath))
    const cases = readStoriesGolden().cases.filter(
      (goldenCase) => goldenCase.logits_per_position !== undefined,
    )
    expect(cases.length).toBeGreaterThan(0)
    for (const goldenCase of cases) {
      const logits = referenceForward(checkpoint, goldenCase.prompt_tokens)
      const vocabulary = checkpoint.config.vocabSize
      goldenCase.logits_per_position?.forEach((expected, position) => {
        const actual = logits.subarray(position * vocabulary, (position + 1) * vocabulary)
        expect({
          prompt: goldenCase.prompt,
          position,
          difference: maximumDifference(actual, expected) < 1e-4,
        }).toEqual({
          prompt: goldenCase.prompt,
          position,
          difference: true,
        })
        const argmax = actual.indexOf(Math.max(...actual))
        expect(argmax).toBe(goldenCase.argmax_per_position?.[position])
      })
    }
  })

  it('continues every golden generation greedily for 12 tokens', async () => {
    const { checkpoint } = await importGguf(requireFixture(storiesGgufPath))
    for (const goldenCase of readStoriesGolden().cases) {
      const prompt = goldenCase.prompt_tokens
      const steps = Math.min(goldenCase.tokens.length - prompt.length, 12)
      expect(referenceGreedy(checkpoint, prompt, steps)).toEqual(
        goldenCase.tokens.slice(prompt.length, prompt.length + steps),
      )
    }
  })
})
