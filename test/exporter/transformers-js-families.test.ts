import { rmSync } from 'node:fs'
import { dirname } from 'node:path'
import { AutoModelForCausalLM, env, Tensor } from '@huggingface/transformers'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { LlamaConfig } from '../../src/main/core/models/checkpoint.ts'
import type { GraphFamily } from '../../src/main/core/models/graph-contract.ts'
import { buildTinyModel, tinyCheckpoint } from '../helpers/tiny-models.ts'
import { referenceGreedy } from '../helpers/reference-llama.ts'

/**
 * Exports of every family load in Transformers.js 4.3.1 offline by their config.json model_type (qwen2, qwen3,
 * phi3, mistral, gemma2, gemma3_text, llama with rope_scaling), and greedy generate() over the KV cache continues like the reference.
 */

env.allowRemoteModels = false
env.useFSCache = false

/** Gemma 2/3 structure: layer 0 slides (window 3), layer 1 is global. */
const gemmaShared: Partial<LlamaConfig> = {
  sandwichNorms: true,
  scaledEmbedding: true,
  hiddenActivation: 'gelu_tanh',
  slidingWindow: 3,
  slidingWindowPattern: 2,
}

const families: { name: string; config: Partial<LlamaConfig> }[] = [
  { name: 'qwen2', config: { architecture: 'qwen2', attentionBias: true } },
  { name: 'qwen3', config: { architecture: 'qwen3', qkNorm: true } },
  { name: 'phi3', config: { architecture: 'phi3', slidingWindow: 4 } },
  { name: 'mistral', config: { architecture: 'mistral', slidingWindow: 3 } },
  {
    name: 'gemma2',
    config: { architecture: 'gemma2', ...gemmaShared, attentionLogitSoftcap: 2, finalLogitSoftcap: 3 },
  },
  {
    // Transformers.js starts gemma3_text position ids at 1; RoPE scores depend on relative positions only.
    name: 'gemma3_text',
    config: { architecture: 'gemma3_text', ...gemmaShared, qkNorm: true, localRopeTheta: 10000 },
  },
  {
    name: 'llama with llama3 RoPE scaling',
    config: {
      ropeScaling: {
        type: 'llama3',
        factor: 8,
        lowFrequencyFactor: 1,
        highFrequencyFactor: 4,
        originalMaxPositionEmbeddings: 16,
      },
    },
  },
  {
    name: 'llama with per-frequency RoPE divisors (as imported from rope_freqs.weight)',
    config: { ropeScaling: { type: 'frequency-factors', factors: [1.5, 8, 8, 8] } },
  },
]

const graphFamilies: GraphFamily[] = ['builder', 'optimum']
const prompt = [1, 70, 71, 150, 33, 200, 9]

for (const family of families) {
  for (const graphFamily of graphFamilies) {
    describe(`Transformers.js on a ${family.name} ${graphFamily} export`, () => {
      let folder = ''
      const options = { config: family.config, seed: 23 }
      beforeAll(async () => {
        folder = await buildTinyModel({ ...options, family: graphFamily })
      })
      afterAll(() => {
        if (folder !== '') rmSync(dirname(folder), { recursive: true, force: true })
      })

      it('greedy generate() equals the reference continuation', async () => {
        const model = await AutoModelForCausalLM.from_pretrained(folder, { device: 'cpu' })
        try {
          const inputIds = new Tensor('int64', BigInt64Array.from(prompt, BigInt), [1, prompt.length])
          const attentionMask = new Tensor('int64', new BigInt64Array(prompt.length).fill(1n), [
            1,
            prompt.length,
          ])
          const generated = (await model.generate({
            input_ids: inputIds,
            attention_mask: attentionMask,
            max_new_tokens: 6,
            min_new_tokens: 6,
            do_sample: false,
          })) as Tensor
          const continuation = Array.from(generated.data as BigInt64Array, Number).slice(prompt.length)
          expect(continuation).toEqual(referenceGreedy(tinyCheckpoint(options), prompt, 6))
        } finally {
          await model.dispose()
        }
      })
    })
  }
}
