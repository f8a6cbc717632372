import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

import * as ort from 'onnxruntime-node'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'

import { writeGgufFile } from '../../src/main/core/gguf/writer.ts'
import { compileGraph } from '../../src/main/core/edits/compiler/compile.ts'
import { steeringInputs } from '../../src/main/core/edits/steered-generation.ts'
import type { LlamaCheckpoint, LlamaConfig } from '../../src/main/core/models/checkpoint.ts'
import { exportModelFolder } from '../../src/main/core/models/exporter/index.ts'
import type { GraphFamily } from '../../src/main/core/models/graph-contract.ts'
import { importGguf, type GgufImport } from '../../src/main/core/models/importers/gguf/import-gguf.ts'
import { locateHookSites } from '../../src/main/core/models/locator/index.ts'
import { randomCheckpoint } from '../../src/main/core/models/random-checkpoint.ts'
import { forwardBatch } from '../../src/main/core/runtime/forward.ts'
import { loadModel } from '../../src/main/core/runtime/model.ts'
import { hookSites, type Intervention } from '../../src/shared/edit.ts'
import { editOf, randomVector } from '../compiler/support.ts'
import { BatchRunner, maxDifference } from '../exporter/batch-runner.ts'
import { runTiller } from '../helpers/cli.ts'
import { argmaxRow, referenceForward, referenceGreedy } from '../helpers/reference-llama.ts'
import {
  familyCheckpointToGguf,
  llama3RopeFrequencyDivisors,
  type FamilyArchitecture,
} from './helpers/family-gguf.ts'

/**
 * Evidence per model family: a random-weight tiny model with the family's features active is written as a GGUF the
 * way llama.cpp writes that architecture, imported, and exported in both graph families. The logits equal the
 * float64-accumulating reference forward pass of the original weights, greedy tokens agree across the graph
 * families and with the reference, the locator finds all seven sites of every layer, and an edit at every site
 * with strength 0 reproduces the base logits bit for bit.
 */

const tolerance = 1e-4
const prompt = [1, 259, 262, 270, 5, 290, 299, 42, 17, 3]
const newTokens = 6

const base: LlamaConfig = {
  vocabSize: 300,
  hiddenSize: 32,
  intermediateSize: 64,
  numLayers: 2,
  numHeads: 4,
  numKeyValueHeads: 2,
  headDim: 8,
  rmsNormEps: 1e-6,
  ropeTheta: 10000,
  maxPositionEmbeddings: 64,
  tieWordEmbeddings: false,
  bosTokenId: 1,
  eosTokenId: 2,
}

/** What every Gemma GGUF configures (gemma-config.ts); tied embeddings, as Gemma ships. */
const gemmaBase: Partial<LlamaConfig> = {
  headDim: 16,
  tieWordEmbeddings: true,
  slidingWindow: 4,
  scaledEmbedding: true,
  hiddenActivation: 'gelu_tanh',
  sandwichNorms: true,
  queryPreAttentionScalar: 16,
}

const gemma2Caps: Partial<LlamaConfig> = { attentionLogitSoftcap: 2, finalLogitSoftcap: 3 }

interface Family {
  name: string
  architecture: FamilyArchitecture
  config: LlamaConfig
  /** The config the import must produce (differs from `config` where GGUF stores a feature another way). */
  imported: (config: LlamaConfig) => LlamaConfig
}

const llama3Scaling = {
  type: 'llama3' as const,
  factor: 8,
  lowFrequencyFactor: 1,
  highFrequencyFactor: 4,
  // A short original context so wavelengths 6.3 (blended) and 63..6283 (divided by 8) are remapped.
  originalMaxPositionEmbeddings: 16,
}

const families: Family[] = [
  {
    name: 'Llama 3.2 (llama3 RoPE scaling as rope_freqs.weight, tied embeddings)',
    architecture: 'llama',
    config: { ...base, ropeScaling: llama3Scaling, tieWordEmbeddings: true, ropeTheta: 500000 },
    imported: (config) => ({
      ...config,
      ropeScaling: { type: 'frequency-factors', factors: Array.from(llama3RopeFrequencyDivisors(config)) },
    }),
  },
  {
    name: 'Mistral (llama architecture with a sliding window of 4)',
    architecture: 'llama',
    config: { ...base, architecture: 'mistral', slidingWindow: 4 },
    imported: (config) => config,
  },
  {
    name: 'Qwen 2.5 (qwen2: q/k/v biases, tied embeddings)',
    architecture: 'qwen2',
    config: {
      ...base,
      architecture: 'qwen2',
      attentionBias: true,
      tieWordEmbeddings: true,
      ropeTheta: 1000000,
    },
    imported: (config) => config,
  },
  {
    name: 'Qwen 3 (qwen3: per-head q/k norms)',
    architecture: 'qwen3',
    config: { ...base, architecture: 'qwen3', qkNorm: true, ropeTheta: 1000000 },
    imported: (config) => config,
  },
  {
    name: 'Phi-3 (phi3: fused attn_qkv and gate/up, sliding window of 5)',
    architecture: 'phi3',
    config: { ...base, architecture: 'phi3', slidingWindow: 5 },
    imported: (config) => config,
  },
  {
    // Small caps so both soft-caps bend this tiny model's scores and logits; heads·headDim 64 ≠ hidden 32.
    name: 'Gemma 2 (gemma2: alternating sliding window, soft-capping, four norms, GELU, scaled embeddings)',
    architecture: 'gemma2',
    config: { ...base, ...gemmaBase, architecture: 'gemma2', slidingWindowPattern: 2, ...gemma2Caps },
    imported: (config) => config,
  },
  {
    // llama.cpp's default pattern 6: layers 0-4 slide with RoPE base 10000, layer 5 is global with 1e6 and ×8.
    name: 'Gemma 3 (gemma3: 5 sliding : 1 global, local RoPE base, q/k norms, linear scaling on global layers)',
    architecture: 'gemma3',
    config: {
      ...base,
      ...gemmaBase,
      architecture: 'gemma3_text',
      numLayers: 6,
      qkNorm: true,
      slidingWindowPattern: 6,
      localRopeTheta: 10000,
      ropeTheta: 1000000,
      ropeScaling: { type: 'linear', factor: 8 },
    },
    imported: (config) => config,
  },
]

const graphFamilies: GraphFamily[] = ['builder', 'optimum']

describe('Phi-3 written with attn_q, attn_k and attn_v apart (llama.cpp loads either form)', () => {
  it('imports the same weights as the fused file', async () => {
    const family = families.find((candidate) => candidate.architecture === 'phi3')
    if (family === undefined) throw new Error('no phi3 family')
    const original = randomCheckpoint(family.config, 7)
    const path = join(root, 'phi3-separate.gguf')
    const content = familyCheckpointToGguf(original, 'phi3', { separateQueryKeyValue: true })
    expect(content.tensors.some((tensor) => tensor.name === 'blk.0.attn_qkv.weight')).toBe(false)
    await writeGgufFile(path, content)
    const imported = await importGguf(path)
    expect(imported.checkpoint.config).toEqual(family.config)
    for (const [name, weight] of original.weights) {
      expect({
        name,
        equal: values(imported.checkpoint, name)?.every((value, at) => value === weight.data[at]),
      }).toEqual({ name, equal: true })
    }
  })
})

/** Greedy tokens of an exported graph, decoding one token at a time over its KV cache. */
async function graphGreedy(folder: string, config: LlamaConfig): Promise<number[]> {
  const session = await ort.InferenceSession.create(join(folder, 'onnx', 'model.onnx'))
  try {
    const runner = new BatchRunner(session, config, 1)
    let logits = await runner.step([prompt])
    let row = prompt.length - 1
    const tokens: number[] = []
    for (let step = 0; step < newTokens; step++) {
      const token = argmaxRow(logits, config.vocabSize, row)
      tokens.push(token)
      logits = await runner.step([[token]])
      row = 0
    }
    return tokens
  } finally {
    await session.release()
  }
}

async function prefillLogits(folder: string, config: LlamaConfig): Promise<Float32Array> {
  const session = await ort.InferenceSession.create(join(folder, 'onnx', 'model.onnx'))
  try {
    return await new BatchRunner(session, config, 1).step([prompt])
  } finally {
    await session.release()
  }
}

function values(checkpoint: LlamaCheckpoint, name: string): Float32Array | Uint16Array | undefined {
  return checkpoint.weights.get(name)?.data
}

let root = ''
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'tiller-gguf-families-'))
})
afterAll(async () => {
  if (root !== '') await rm(root, { recursive: true, force: true })
})

families.forEach((family, familyIndex) => {
  describe(family.name, () => {
    const original = randomCheckpoint(family.config, 40 + familyIndex)
    const reference = referenceForward(original, prompt)
    let imported: GgufImport | undefined
    const folders: Partial<Record<GraphFamily, string>> = {}

    beforeAll(async () => {
      const path = join(root, `family-${familyIndex}.gguf`)
      await writeGgufFile(path, familyCheckpointToGguf(original, family.architecture))
      imported = await importGguf(path)
      for (const graphFamily of graphFamilies) {
        const folder = join(root, `family-${familyIndex}-${graphFamily}`)
        await exportModelFolder(imported.checkpoint, imported.tokenizer, folder, { family: graphFamily })
        folders[graphFamily] = folder
      }
    })

    const checkpoint = (): LlamaCheckpoint => {
      if (imported === undefined) throw new Error('the import did not run')
      return imported.checkpoint
    }
    const folderOf = (graphFamily: GraphFamily): string => {
      const folder = folders[graphFamily]
      if (folder === undefined) throw new Error(`no ${graphFamily} export`)
      return folder
    }

    it('imports the config and every weight exactly (split, unpermuted or permuted as the architecture needs)', () => {
      expect(checkpoint().config).toEqual(family.imported(family.config))
      expect([...checkpoint().weights.keys()].sort()).toEqual([...original.weights.keys()].sort())
      for (const [name, weight] of original.weights) {
        expect({
          name,
          equal: values(checkpoint(), name)?.every((value, at) => value === weight.data[at]),
        }).toEqual({
          name,
          equal: true,
        })
      }
    })

    for (const graphFamily of graphFamilies) {
      it(`${graphFamily} graph: prefill logits equal the reference forward pass`, async () => {
        const logits = await prefillLogits(folderOf(graphFamily), checkpoint().config)
        expect(maxDifference(logits, 0, reference, 0, prompt.length, base.vocabSize)).toBeLessThan(tolerance)
      })
    }

    it('greedy tokens agree between the two graph families and with the reference', async () => {
      const expected = referenceGreedy(original, prompt, newTokens)
      for (const graphFamily of graphFamilies) {
        expect({
          graphFamily,
          tokens: await graphGreedy(folderOf(graphFamily), checkpoint().config),
        }).toEqual({
          graphFamily,
          tokens: expected,
        })
      }
    })

    for (const graphFamily of graphFamilies) {
      it(`${graphFamily} graph: all seven sites per layer, and strength 0 at every site is bit-exact`, async () => {
        const folder = folderOf(graphFamily)
        const map = await locateHookSites(folder)
        expect(map.layers).toHaveLength(family.config.numLayers)
        for (const sites of map.layers) expect(Object.keys(sites).sort()).toEqual([...hookSites].sort())
        expect(map.widths.mlp_gate).toBe(base.intermediateSize)
        const interventions: Intervention[] = hookSites.map((site, index) => ({
          layer: index % family.config.numLayers,
          site,
          positions: { kind: 'all' },
          op: { kind: 'add', vector: randomVector(map.widths[site], index + 1) },
        }))
        const compiled = await compileGraph(folder, { edits: [editOf('every-site', interventions)] })
        const baseModel = await loadModel(folder, { provider: 'cpu' })
        const steered = await loadModel(folder, { provider: 'cpu', graphFile: compiled.graphFile })
        try {
          const rows = [prompt.slice(0, 5)]
          const expected = (await forwardBatch(baseModel, rows, { fetch: ['logits'] })).outputs.logits?.data
          const atZero = (
            await forwardBatch(steered, rows, {
              fetch: ['logits'],
              extraInputs: steeringInputs(compiled, [0]),
            })
          ).outputs.logits?.data
          const atOne = (
            await forwardBatch(steered, rows, {
              fetch: ['logits'],
              extraInputs: steeringInputs(compiled, [1]),
            })
          ).outputs.logits?.data
          expect(Array.from(atZero as ArrayLike<number>)).toEqual(Array.from(expected as ArrayLike<number>))
          expect(Array.from(atOne as ArrayLike<number>)).not.toEqual(
            Array.from(expected as ArrayLike<number>),
          )
        } finally {
          await baseModel.dispose()
          await steered.dispose()
        }
      })
    }

    it('`tiller inspect` finds every site of every layer', async () => {
      const { code, stdout } = await runTiller(['inspect', '--model', folderOf('builder'), '--json'])
      expect(code).toBe(0)
      const printed = JSON.parse(stdout) as { layers: Array<{ sites: Record<string, unknown> }> }
      expect(printed.layers).toHaveLength(family.config.numLayers)
      for (const layer of printed.layers)
        expect(Object.keys(layer.sites).sort()).toEqual([...hookSites].sort())
    })
  })
})
