import { readdirSync, rmSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { AutoModelForCausalLM, env, Tensor } from '@huggingface/transformers'
import * as ort from 'onnxruntime-node'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { LlamaCheckpoint } from '../../src/main/core/models/checkpoint.ts'
import { modelFiles } from '../../src/main/core/models/graph-contract.ts'
import { fromFloat16 } from '../../src/main/core/onnx/float16.ts'
import { buildTinyModel, tinyCheckpoint, type TinyModelOptions } from '../helpers/tiny-models.ts'
import { argmaxRow, referenceForward } from '../helpers/reference-llama.ts'
import { BatchRunner, maxDifference } from './batch-runner.ts'

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
    let checkpoint: LlamaCheckpoint
    let folder: string
    let session: ort.InferenceSession

    beforeAll(async () => {
      const options: TinyModelOptions = { ...variant, dtype: 'float16', seed: 4 }
      checkpoint = tinyCheckpoint(options)
      folder = await buildTinyModel(options)
      session = await ort.InferenceSession.create(join(folder, modelFiles.graphFloat16))
    })
    afterAll(async () => {
      await session?.release()
      if (folder) rmSync(dirname(folder), { recursive: true, force: true })
    })

    it('writes model_fp16.onnx with its data file and a float16 cache', () => {
      expect(readdirSync(join(folder, 'onnx')).sort()).toEqual(['model_fp16.onnx', 'model_fp16.onnx_data'])
      expect(session.inputNames).toContain('past_key_values.0.key')
    })

    it('matches the reference within half precision for a left-padded batch, prefill and decode', async () => {
      const vocab = checkpoint.config.vocabSize
      const long = [1, 47, 290, 12, 250, 99]
      const short = [1, 220, 31]
      const runner = new BatchRunner(session, checkpoint.config, 2, 'float16')
      const prefill = await runner.step([long, [null, null, null, ...short]])
      const longReference = referenceForward(checkpoint, [...long, 3])
      const shortReference = referenceForward(checkpoint, [...short, 4])
      expect(maxDifference(prefill, 0, longReference, 0, long.length, vocab)).toBeLessThan(tolerance)
      expect(maxDifference(prefill, long.length + 3, shortReference, 0, short.length, vocab)).toBeLessThan(
        tolerance,
      )
      const decode = await runner.step([[3], [4]])
      expect(maxDifference(decode, 0, longReference, long.length, 1, vocab)).toBeLessThan(tolerance)
      expect(maxDifference(decode, 1, shortReference, short.length, 1, vocab)).toBeLessThan(tolerance)
    })

    it('loads in Transformers.js, which picks the fp16 file from config.json', async () => {
      const model = await AutoModelForCausalLM.from_pretrained(folder, { device: 'cpu' })
      try {
        const tokens = [1, 70, 71, 150]
        const output = (await model({
          input_ids: new Tensor('int64', BigInt64Array.from(tokens, BigInt), [1, tokens.length]),
          attention_mask: new Tensor('int64', new BigInt64Array(tokens.length).fill(1n), [1, tokens.length]),
        })) as { logits: Tensor }
        const logits =
          output.logits.type === 'float16'
            ? fromFloat16(output.logits.data as Uint16Array)
            : (output.logits.data as Float32Array)
        const vocab = checkpoint.config.vocabSize
        const expected = referenceForward(checkpoint, tokens)
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
