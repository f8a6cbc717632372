import { readFileSync, rmSync } from 'node:fs'
import { dirname, join } from 'node:path'
import * as ort from 'onnxruntime-node'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { LlamaCheckpoint, LlamaConfig } from '../../src/main/core/models/checkpoint.ts'
import { loadModel } from '../../src/main/core/onnx/external-data.ts'
import { buildTinyModel, tinyCheckpoint, type TinyModelOptions } from '../helpers/tiny-models.ts'
import { referenceForward } from '../helpers/reference-llama.ts'
import { BatchRunner, maxDifference } from './batch-runner.ts'

/**
 * The builder family's GroupQueryAttention variant: correct where CPU GQA accepts the call (prefill, one-token
 * decode with left padding via attention_bias, multi-token steps at batch 1), and the documented gap that makes
 * 'auto' choose MultiHeadAttention instead.
 */

const tolerance = 1e-4
const shapes: { name: string; config: Partial<LlamaConfig> }[] = [
  { name: 'head dim 8, 4 heads / 2 kv heads', config: {} },
  {
    name: 'head dim 16, 4 heads / 1 kv head',
    config: { hiddenSize: 64, numHeads: 4, numKeyValueHeads: 1, headDim: 16 },
  },
]

for (const shape of shapes) {
  describe(`builder gqa, ${shape.name}`, () => {
    let checkpoint: LlamaCheckpoint
    let folder: string
    let session: ort.InferenceSession

    beforeAll(async () => {
      const options: TinyModelOptions = { family: 'builder', attention: 'gqa', config: shape.config, seed: 5 }
      checkpoint = tinyCheckpoint(options)
      folder = await buildTinyModel(options)
      session = await ort.InferenceSession.create(join(folder, 'onnx', 'model.onnx'))
    })
    afterAll(async () => {
      await session?.release()
      if (folder) rmSync(dirname(folder), { recursive: true, force: true })
    })

    it('uses GroupQueryAttention and records it in config.json', async () => {
      const { model } = await loadModel(join(folder, 'onnx', 'model.onnx'))
      const ops = new Set(model.graph.node.map((node) => node.opType))
      expect(ops.has('GroupQueryAttention')).toBe(true)
      expect(ops.has('MultiHeadAttention')).toBe(false)
      const config = JSON.parse(readFileSync(join(folder, 'config.json'), 'utf8')) as {
        tiller: { attention: string }
      }
      expect(config.tiller.attention).toBe('gqa')
    })

    it('matches the reference for a left-padded batch at prefill and one-token decode', async () => {
      const vocab = checkpoint.config.vocabSize
      const long = [1, 20, 30, 40, 50]
      const short = [1, 60]
      const runner = new BatchRunner(session, checkpoint.config, 2)
      const prefill = await runner.step([long, [null, null, null, ...short]])
      const longReference = referenceForward(checkpoint, [...long, 7])
      const shortReference = referenceForward(checkpoint, [...short, 8])
      expect(maxDifference(prefill, 0, longReference, 0, long.length, vocab)).toBeLessThan(tolerance)
      expect(maxDifference(prefill, long.length + 3, shortReference, 0, short.length, vocab)).toBeLessThan(
        tolerance,
      )
      const decode = await runner.step([[7], [8]])
      expect(maxDifference(decode, 0, longReference, long.length, 1, vocab)).toBeLessThan(tolerance)
      expect(maxDifference(decode, 1, shortReference, short.length, 1, vocab)).toBeLessThan(tolerance)
    })

    it('matches the reference for a multi-token step over the cache at batch 1', async () => {
      const tokens = [1, 11, 12, 13, 14, 15]
      const runner = new BatchRunner(session, checkpoint.config, 1)
      await runner.step([tokens.slice(0, 2)])
      const rest = await runner.step([tokens.slice(2)])
      const expected = referenceForward(checkpoint, tokens)
      expect(maxDifference(rest, 0, expected, 2, 4, checkpoint.config.vocabSize)).toBeLessThan(tolerance)
    })

    it('is refused by CPU GQA for multi-token steps over a cache at batch 2 (why auto picks MultiHeadAttention)', async () => {
      const runner = new BatchRunner(session, checkpoint.config, 2)
      await runner.step([
        [1, 2],
        [1, 3],
      ])
      await expect(
        runner.step([
          [4, 5],
          [6, 7],
        ]),
      ).rejects.toThrow(/batch_size must be 1/)
    })
  })
}
