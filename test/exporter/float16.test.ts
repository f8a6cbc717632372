import { readdirSync } from 'node:fs'
import { join } from 'node:path'
import { AutoModelForCausalLM, env, Tensor } from '@huggingface/transformers'
import { describe, expect, it } from 'vitest'
import { modelFiles } from '../../src/main/core/models/graph-contract.ts'
import { halvesToFloats } from '../../src/shared/float16.ts'
import type { TinyModelOptions } from '../helpers/tiny-models.ts'
import { argmaxRow, referenceForward } from '../helpers/reference-llama.ts'
import { maxDifference, paddedPairDeviation } from './batch-runner.ts'
import { useTinySession } from './tiny-session.ts'

/**
 * float16 exports: weights, activations and cache in half precision, files named like Transformers.js's fp16
 * dtype. Logits have a standard deviation of about 2, so half precision leaves errors near 1e-2; the bound is 5e-2.
 */

env.allowRemoteModels = false
env.useFSCache = false

const tolerance = 5e-2
const variants: TinyModelOptions[] = [{ family: 'builder' }, { family: 'optimum' }]

for (const variant of variants) {
  describe(`float16 ${variant.family} export`, () => {
    const tiny = useTinySession({ ...variant, dtype: 'float16', seed: 4 }, modelFiles.graphFloat16)

    it('writes model_fp16.onnx with its data file and a float16 cache', () => {
      expect(readdirSync(join(tiny.folder, 'onnx')).sort()).toEqual([
        'model_fp16.onnx',
        'model_fp16.onnx_data',
      ])
      expect(tiny.session.inputNames).toContain('past_key_values.0.key')
    })

    it('matches the reference within half precision for a left-padded batch, prefill and decode', async () => {
      const rows = { long: [1, 47, 290, 12, 250, 99], short: [1, 220, 31], next: [3, 4] as [number, number] }
      expect(await paddedPairDeviation(tiny.session, tiny.checkpoint, rows, 'float16')).toBeLessThan(
        tolerance,
      )
    })

    it('loads in Transformers.js, which picks the fp16 file from config.json', async () => {
      const model = await AutoModelForCausalLM.from_pretrained(tiny.folder, { device: 'cpu' })
      try {
        const tokens = [1, 70, 71, 150]
        const output = (await model({
          input_ids: new Tensor('int64', BigInt64Array.from(tokens, BigInt), [1, tokens.length]),
          attention_mask: new Tensor('int64', new BigInt64Array(tokens.length).fill(1n), [1, tokens.length]),
        })) as { logits: Tensor }
        const logits =
          output.logits.type === 'float16'
            ? halvesToFloats(output.logits.data as Uint16Array)
            : (output.logits.data as Float32Array)
        const vocab = tiny.checkpoint.config.vocabSize
        const expected = referenceForward(tiny.checkpoint, tokens)
        expect(maxDifference(logits, 0, expected, 0, tokens.length, vocab)).toBeLessThan(tolerance)
        expect(argmaxRow(logits, vocab, tokens.length - 1)).toBe(
          argmaxRow(expected, vocab, tokens.length - 1),
        )
      } finally {
        await model.dispose()
      }
    })
  })
}
