import { describe, expect, it } from 'vitest'
import type { TinyModelOptions } from '../helpers/tiny-models.ts'
import { referenceForward } from '../helpers/reference-llama.ts'
import { BatchRunner, maxDifference } from './batch-runner.ts'
import { useTinySession } from './tiny-session.ts'

/**
 * `num_logits_to_keep` on Tiller's exports: 0 returns every position's logits, k the last k, so prefill can skip
 * the output projection for all but the last prompt position. Checked against the Float32Array reference.
 */

const tolerance = 1e-4
const prompt = [1, 47, 290, 12, 250, 99, 7]

const variants: { label: string; options: Pick<TinyModelOptions, 'family' | 'attention' | 'dtype'> }[] = [
  { label: 'builder (MultiHeadAttention)', options: { family: 'builder' } },
  { label: 'builder (GroupQueryAttention)', options: { family: 'builder', attention: 'gqa' } },
  { label: 'optimum', options: { family: 'optimum' } },
]

for (const variant of variants) {
  describe(`num_logits_to_keep, ${variant.label}`, () => {
    const tiny = useTinySession({ ...variant.options, seed: 5 })

    it('keeps the last k positions (0 = all) at prefill and at a decode step', async () => {
      const vocab = tiny.checkpoint.config.vocabSize
      const reference = referenceForward(tiny.checkpoint, [...prompt, 33])
      const all = await new BatchRunner(tiny.session, tiny.checkpoint.config, 1).step([prompt], 0)
      expect(all.length).toBe(prompt.length * vocab)
      expect(maxDifference(all, 0, reference, 0, prompt.length, vocab)).toBeLessThan(tolerance)
      for (const keep of [1, 3]) {
        const runner = new BatchRunner(tiny.session, tiny.checkpoint.config, 1)
        const kept = await runner.step([prompt], keep)
        expect(kept.length).toBe(keep * vocab)
        expect(maxDifference(kept, 0, reference, prompt.length - keep, keep, vocab)).toBeLessThan(tolerance)
        const decoded = await runner.step([[33]], keep)
        expect(decoded.length).toBe(vocab)
        expect(maxDifference(decoded, 0, reference, prompt.length, 1, vocab)).toBeLessThan(tolerance)
      }
    })

    it('keeps the last position of every row of a left-padded batch', async () => {
      const vocab = tiny.checkpoint.config.vocabSize
      const short = prompt.slice(3)
      const runner = new BatchRunner(tiny.session, tiny.checkpoint.config, 2)
      const kept = await runner.step([prompt, [null, null, null, ...short]], 1)
      expect(kept.length).toBe(2 * vocab)
      const longReference = referenceForward(tiny.checkpoint, prompt)
      const shortReference = referenceForward(tiny.checkpoint, short)
      expect(maxDifference(kept, 0, longReference, prompt.length - 1, 1, vocab)).toBeLessThan(tolerance)
      expect(maxDifference(kept, 1, shortReference, short.length - 1, 1, vocab)).toBeLessThan(tolerance)
    })
  })
}
