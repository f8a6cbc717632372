import { rmSync } from 'node:fs'
import { dirname } from 'node:path'
import { AutoModelForCausalLM, AutoTokenizer, env, Tensor } from '@huggingface/transformers'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { LlamaCheckpoint } from '../../src/main/core/models/checkpoint.ts'
import type { GraphFamily } from '../../src/main/core/models/graph-contract.ts'
import { buildTinyModel, tinyCheckpoint } from '../helpers/tiny-models.ts'
import { argmaxRow, referenceForward, referenceGreedy } from '../helpers/reference-llama.ts'
import { maxDifference } from './batch-runner.ts'

/** Exported folders load in Transformers.js 4.3.1 offline, and its forward and greedy generate() agree with the reference. */

env.allowRemoteModels = false
env.useFSCache = false

const families: GraphFamily[] = ['builder', 'optimum']

for (const family of families) {
  describe(`Transformers.js on a ${family} export`, () => {
    let checkpoint: LlamaCheckpoint
    let folder: string

    beforeAll(async () => {
      checkpoint = tinyCheckpoint({ seed: 21 })
      folder = await buildTinyModel({ family, seed: 21 })
    })
    afterAll(() => {
      if (folder) rmSync(dirname(folder), { recursive: true, force: true })
    })

    it('loads the folder and its forward logits equal the reference', async () => {
      const model = await AutoModelForCausalLM.from_pretrained(folder, { device: 'cpu' })
      try {
        const tokens = [1, 70, 71, 150, 33]
        const inputIds = new Tensor('int64', BigInt64Array.from(tokens, BigInt), [1, tokens.length])
        const attentionMask = new Tensor('int64', new BigInt64Array(tokens.length).fill(1n), [
          1,
          tokens.length,
        ])
        const output = (await model({ input_ids: inputIds, attention_mask: attentionMask })) as {
          logits: Tensor
        }
        const vocab = checkpoint.config.vocabSize
        expect(output.logits.dims).toEqual([1, tokens.length, vocab])
        const expected = referenceForward(checkpoint, tokens)
        expect(
          maxDifference(output.logits.data as Float32Array, 0, expected, 0, tokens.length, vocab),
        ).toBeLessThan(1e-4)
        expect(argmaxRow(output.logits.data as Float32Array, vocab, tokens.length - 1)).toBe(
          argmaxRow(expected, vocab, tokens.length - 1),
        )
      } finally {
        await model.dispose()
      }
    })

    it('greedy generate() continues a tokenized prompt exactly like the reference', async () => {
      const tokenizer = await AutoTokenizer.from_pretrained(folder)
      const model = await AutoModelForCausalLM.from_pretrained(folder, { device: 'cpu' })
      try {
        const encoded = tokenizer('Once upon a time')
        const prompt = Array.from(encoded.input_ids.data as BigInt64Array, Number)
        const generated = (await model.generate({
          ...encoded,
          max_new_tokens: 6,
          min_new_tokens: 6,
          do_sample: false,
        })) as Tensor
        const continuation = Array.from(generated.data as BigInt64Array, Number).slice(prompt.length)
        expect(continuation).toEqual(referenceGreedy(checkpoint, prompt, 6))
      } finally {
        await model.dispose()
      }
    })
  })
}
