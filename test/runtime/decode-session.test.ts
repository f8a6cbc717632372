import { availableParallelism } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, test } from 'vitest'
import { generate } from '../../src/main/core/runtime/generate.ts'
import { decodeSessionOf, loadModel, replaceGraph } from '../../src/main/core/runtime/model.ts'
import { setIntraOpThreads } from '../../src/main/core/runtime/session.ts'

/**
 * A small model decodes on a second, one-thread session (runtime/session.ts `singleThreadDecodeSession`, created
 * on first use) and generates what the model on every core generates; a thread count set with `--threads` keeps
 * one session.
 */

const organismFolder = join(import.meta.dirname, '../../resources/models/organism')
const prompts = [
  [1, 10, 11, 12, 13, 14],
  [1, 20, 21, 22],
]

afterEach(() => setIntraOpThreads(undefined))

describe('decode session of a small model', () => {
  test('the organism decodes on one thread and generates the same greedy tokens as on every core', async () => {
    const model = await loadModel(organismFolder, { provider: 'cpu' })
    const decoder = await decodeSessionOf(model)
    setIntraOpThreads(availableParallelism())
    const reference = await loadModel(organismFolder, { provider: 'cpu' })
    try {
      expect(decoder !== undefined).toBe(availableParallelism() > 1)
      expect(await decodeSessionOf(reference)).toBeUndefined()
      const options = { maxTokens: 24, temperature: 0, eosTokenIds: [-1] }
      const steps = await generate(model, { rows: prompts, options })
      const expected = await generate(reference, { rows: prompts, options })
      expect(steps.map((row) => row.generated)).toEqual(expected.map((row) => row.generated))
      expect(steps[0]?.generated).toHaveLength(24)
    } finally {
      await model.dispose()
      await reference.dispose()
    }
  })

  test('replacing the graph replaces the decode session too', async () => {
    const model = await loadModel(organismFolder, { provider: 'cpu' })
    try {
      const before = await decodeSessionOf(model)
      await replaceGraph(model, 'onnx/model.onnx')
      expect((await decodeSessionOf(model)) !== undefined).toBe(availableParallelism() > 1)
      if (before !== undefined) expect(await decodeSessionOf(model)).not.toBe(before)
      const [result] = await generate(model, {
        rows: [prompts[0] as number[]],
        options: { maxTokens: 4, temperature: 0, eosTokenIds: [-1] },
      })
      expect(result?.generated).toHaveLength(4)
    } finally {
      await model.dispose()
    }
  })
})
