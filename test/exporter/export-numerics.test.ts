import { describe, expect, it } from 'vitest'
import type { LlamaConfig } from '../../src/main/core/models/checkpoint.ts'
import { tinyConfig, type TinyModelOptions } from '../helpers/tiny-models.ts'
import { referenceForward } from '../helpers/reference-llama.ts'
import { BatchRunner, maxDifference } from './batch-runner.ts'
import { useTinySession } from './tiny-session.ts'

/**
 * Exported graphs against the Float32Array reference (test/helpers/reference-llama.ts): prefill, decode with the
 * KV cache, multi-token steps over a cache, and left-padded batches, for both families and two shapes.
 */

const tolerance = 1e-4

const shapes: { name: string; config: Partial<LlamaConfig>; tie: boolean }[] = [
  {
    name: 'stories260K shape (head dim 8, 8 heads / 4 kv heads, 5 layers, tied)',
    config: {
      vocabSize: 512,
      hiddenSize: 64,
      intermediateSize: 172,
      numLayers: 5,
      numHeads: 8,
      numKeyValueHeads: 4,
      headDim: 8,
    },
    tie: true,
  },
  {
    name: 'head dim 16 (2 heads / 2 kv heads, untied)',
    config: {
      vocabSize: 300,
      hiddenSize: 32,
      intermediateSize: 64,
      numLayers: 2,
      numHeads: 2,
      numKeyValueHeads: 2,
      headDim: 16,
    },
    tie: false,
  },
]

const variants: { label: string; options: Pick<TinyModelOptions, 'family' | 'attention'> }[] = [
  { label: 'builder (auto = MultiHeadAttention)', options: { family: 'builder' } },
  { label: 'optimum', options: { family: 'optimum' } },
]

const prompt = [1, 47, 290, 12, 250, 99, 7, 180]
const shortPrompt = [1, 220, 31]

for (const variant of variants) {
  for (const shape of shapes) {
    describe(`${variant.label}, ${shape.name}`, () => {
      const tiny = useTinySession({ ...variant.options, config: shape.config, tie: shape.tie, seed: 11 })
      const vocab = shape.config.vocabSize ?? tinyConfig.vocabSize

      it('prefill logits equal the reference', async () => {
        const logits = await new BatchRunner(tiny.session, tiny.checkpoint.config, 1).step([prompt])
        expect(
          maxDifference(logits, 0, referenceForward(tiny.checkpoint, prompt), 0, prompt.length, vocab),
        ).toBeLessThan(tolerance)
      })

      it('decode steps and a multi-token step over the cache equal the reference', async () => {
        const runner = new BatchRunner(tiny.session, tiny.checkpoint.config, 1)
        const expected = referenceForward(tiny.checkpoint, prompt)
        await runner.step([prompt.slice(0, 3)])
        const fourth = await runner.step([[prompt[3] ?? 0]])
        expect(maxDifference(fourth, 0, expected, 3, 1, vocab)).toBeLessThan(tolerance)
        const fifth = await runner.step([[prompt[4] ?? 0]])
        expect(maxDifference(fifth, 0, expected, 4, 1, vocab)).toBeLessThan(tolerance)
        const rest = await runner.step([prompt.slice(5)])
        expect(maxDifference(rest, 0, expected, 5, 3, vocab)).toBeLessThan(tolerance)
      })

      it('a left-padded two-row batch equals one-row runs at prefill, decode and multi-token steps', async () => {
        const pads = prompt.length - shortPrompt.length
        const runner = new BatchRunner(tiny.session, tiny.checkpoint.config, 2)
        const prefill = await runner.step([prompt, [...new Array<null>(pads).fill(null), ...shortPrompt]])
        const longReference = referenceForward(tiny.checkpoint, [...prompt, 5, 6, 70, 71])
        const shortReference = referenceForward(tiny.checkpoint, [...shortPrompt, 8, 9, 80, 81])
        expect(maxDifference(prefill, 0, longReference, 0, prompt.length, vocab)).toBeLessThan(tolerance)
        expect(
          maxDifference(prefill, prompt.length + pads, shortReference, 0, shortPrompt.length, vocab),
        ).toBeLessThan(tolerance)

        const single = await new BatchRunner(tiny.session, tiny.checkpoint.config, 1).step([shortPrompt])
        expect(
          maxDifference(prefill, prompt.length + pads, single, 0, shortPrompt.length, vocab),
        ).toBeLessThan(1e-5)

        const decode = await runner.step([[5], [8]])
        expect(maxDifference(decode, 0, longReference, prompt.length, 1, vocab)).toBeLessThan(tolerance)
        expect(maxDifference(decode, 1, shortReference, shortPrompt.length, 1, vocab)).toBeLessThan(tolerance)
        const again = await runner.step([[6], [9]])
        expect(maxDifference(again, 0, longReference, prompt.length + 1, 1, vocab)).toBeLessThan(tolerance)
        expect(maxDifference(again, 1, shortReference, shortPrompt.length + 1, 1, vocab)).toBeLessThan(
          tolerance,
        )
        const chunk = await runner.step([
          [70, 71],
          [80, 81],
        ])
        expect(maxDifference(chunk, 0, longReference, prompt.length + 2, 2, vocab)).toBeLessThan(tolerance)
        expect(maxDifference(chunk, 2, shortReference, shortPrompt.length + 2, 2, vocab)).toBeLessThan(
          tolerance,
        )
      })
    })
  }
}
