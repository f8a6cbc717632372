import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import type { LlamaConfig } from '../../src/main/core/models/checkpoint.ts'
import { loadModel } from '../../src/main/core/onnx/external-data.ts'
import { referenceForward } from '../helpers/reference-llama.ts'
import { BatchRunner, maxDifference, paddedPairDeviation } from './batch-runner.ts'
import { useTinySession } from './tiny-session.ts'

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
    const tiny = useTinySession({ family: 'builder', attention: 'gqa', config: shape.config, seed: 5 })

    it('uses GroupQueryAttention and records it in config.json', async () => {
      const { model } = await loadModel(join(tiny.folder, 'onnx', 'model.onnx'))
      const ops = new Set(model.graph.node.map((node) => node.opType))
      expect(ops.has('GroupQueryAttention')).toBe(true)
      expect(ops.has('MultiHeadAttention')).toBe(false)
      const config = JSON.parse(readFileSync(join(tiny.folder, 'config.json'), 'utf8')) as {
        tiller: { attention: string }
      }
      expect(config.tiller.attention).toBe('gqa')
    })

    it('matches the reference for a left-padded batch at prefill and one-token decode', async () => {
      const rows = { long: [1, 20, 30, 40, 50], short: [1, 60], next: [7, 8] as [number, number] }
      expect(await paddedPairDeviation(tiny.session, tiny.checkpoint, rows)).toBeLessThan(tolerance)
    })

    it('matches the reference for a multi-token step over the cache at batch 1', async () => {
      const tokens = [1, 11, 12, 13, 14, 15]
      const runner = new BatchRunner(tiny.session, tiny.checkpoint.config, 1)
      await runner.step([tokens.slice(0, 2)])
      const rest = await runner.step([tokens.slice(2)])
      const expected = referenceForward(tiny.checkpoint, tokens)
      expect(maxDifference(rest, 0, expected, 2, 4, tiny.checkpoint.config.vocabSize)).toBeLessThan(tolerance)
    })

    it('is refused by CPU GQA for multi-token steps over a cache at batch 2 (why auto picks MultiHeadAttention)', async () => {
      const runner = new BatchRunner(tiny.session, tiny.checkpoint.config, 2)
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
