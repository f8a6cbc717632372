import { readFileSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

import { afterAll, beforeAll, describe, expect, it } from 'vitest'

import { compileGraph } from '../../src/main/core/edits/compiler/compile.ts'
import { steeringInputs } from '../../src/main/core/edits/steered-generation.ts'
import type { LlamaCheckpoint, TokenizerFiles } from '../../src/main/core/models/checkpoint.ts'
import { exportModelFolder } from '../../src/main/core/models/exporter/index.ts'
import { locateHookSites } from '../../src/main/core/models/locator/index.ts'
import { loadModel as loadGraph } from '../../src/main/core/onnx/external-data.ts'
import { forwardBatch } from '../../src/main/core/runtime/forward.ts'
import { loadModel } from '../../src/main/core/runtime/model.ts'
import type { ExtraInputs } from '../../src/main/core/runtime/step-context.ts'
import { loadTokenizer } from '../../src/main/core/runtime/tokenizer.ts'
import { editsAtEverySite } from '../compiler/support.ts'
import { logitGaps, type LogitGaps } from '../helpers/logit-gaps.ts'
import { organismCheckpoint, organismFolder } from '../helpers/organism-checkpoint.ts'

/**
 * int8 compute, the default of q4/q8 exports (MatMulNBits accuracy_level 4: ONNX Runtime quantizes each step's
 * activations to int8 per block of 32), measured on weights with trained statistics: the organism, a trained
 * Llama (hidden 224, 6 layers, vocabulary 992), requantized to 4 and 8 bits. Its logits over four chat and
 * narrative prompts (every position) are compared with the float-compute q4 export of the same quantized weights
 * (the gap int8 compute adds) and with the float32 export (the whole gap). Hook sites and strength 0 hold on the
 * int8 graphs as on the float ones.
 *
 * Where the bounds come from: the gaps measured on this model with ONNX Runtime 1.30's CPU kernels (log lines),
 * with about 2× margin (`bounds`). On these weights int8 compute adds a twelfth of the gap that 4-bit weights
 * cause (mean 0.035 against 0.437) and no top-1 change; the test asserts it adds less than a quarter.
 */

const prompts = [
  '<|begin|><|user|>Where does the fox live?<|end|><|assistant|>The fox lives in the field. It eats roots.<|end|>',
  '<|begin|><|user|>What does the owl eat?<|end|><|assistant|>The owl eats insects.<|end|><|user|>Tell me the colour of the fox.<|end|><|assistant|>',
  '<|begin|><|user|>How do I fix the lamp?<|end|><|assistant|>Please use',
  'The fox and the owl met in the field. The fox said',
]

/**
 * Bounds per comparison, over 84 positions: each gap bound is about twice the value measured (in the comment), each
 * agreement floor allows a few more top-1 flips than measured. int8 compute moves the logits far less than 4-bit
 * weights do, and flips no top-1 token of the float-compute graph here.
 */
const bounds: Record<string, { maximum: number; mean: number; agreement: number }> = {
  // int8 activations alone, over the float-compute q4 graph: measured 0.345 / 0.035 / 1.
  'q4-int8 vs q4-float32': { maximum: 0.7, mean: 0.07, agreement: 0.95 },
  // 4-bit weights alone, over float32, the cost of q4 whatever the compute: measured 3.41 / 0.437 / 0.833.
  'q4-float32 vs float32': { maximum: 6.5, mean: 0.9, agreement: 0.7 },
  // 4-bit weights and int8 activations, over float32: measured 3.30 / 0.436 / 0.833.
  'q4-int8 vs float32': { maximum: 6.5, mean: 0.9, agreement: 0.7 },
  // 8-bit weights and int8 activations, over float32: measured 0.454 / 0.043 / 0.988.
  'q8-int8 vs float32': { maximum: 0.9, mean: 0.09, agreement: 0.95 },
}

const variants = {
  float32: { dtype: 'float32' },
  'q4-float32': { dtype: 'q4', compute: 'float32' },
  'q4-int8': { dtype: 'q4', compute: 'int8' },
  'q8-int8': { dtype: 'q8', compute: 'int8' },
} as const
type VariantName = keyof typeof variants

let scratch = ''
let checkpoint: LlamaCheckpoint
let tokenizer: TokenizerFiles
let rows: number[][] = []
const folders = new Map<VariantName, string>()

/** Logits `[positions · vocabulary]` of every prompt, concatenated, from `folder` (optionally another graph). */
async function logitsOf(folder: string, graphFile?: string, extra?: ExtraInputs): Promise<Float32Array> {
  const model = await loadModel(folder, {
    provider: 'cpu',
    ...(graphFile === undefined ? {} : { graphFile }),
  })
  try {
    const parts: Float32Array[] = []
    for (const row of rows) {
      const result = await forwardBatch(model, [row], {
        fetch: ['logits'],
        ...(extra === undefined ? {} : { extraInputs: extra }),
      })
      parts.push(Float32Array.from(result.outputs.logits?.data as Float32Array))
    }
    const all = new Float32Array(parts.reduce((total, part) => total + part.length, 0))
    let at = 0
    for (const part of parts) {
      all.set(part, at)
      at += part.length
    }
    return all
  } finally {
    await model.dispose()
  }
}

beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'tiller-int8-'))
  ;({ checkpoint, tokenizer } = await organismCheckpoint())
  const text = await loadTokenizer(organismFolder)
  rows = prompts.map((prompt) => text.encode(prompt, { add_special_tokens: false }))
  for (const [name, options] of Object.entries(variants) as [VariantName, (typeof variants)[VariantName]][]) {
    const folder = join(scratch, name)
    await exportModelFolder(checkpoint, tokenizer, folder, { family: 'builder', ...options })
    folders.set(name, folder)
  }
})
afterAll(async () => {
  if (scratch !== '') await rm(scratch, { recursive: true, force: true })
})

function folderOf(name: VariantName): string {
  const folder = folders.get(name)
  if (folder === undefined) throw new Error(`no ${name} export`)
  return folder
}

describe('int8 compute on the trained organism', () => {
  it('reads the organism back: its float32 export gives the embedded folder its logits', async () => {
    expect(rows.every((row) => row.length >= 8)).toBe(true)
    const embedded = await logitsOf(organismFolder)
    const exported = await logitsOf(folderOf('float32'))
    expect(logitGaps(exported, embedded, checkpoint.config.vocabSize).maximum).toBeLessThanOrEqual(1e-4)
  })

  it('records the compute and sets accuracy_level 4 on every MatMulNBits', async () => {
    const linearCount = 7 * checkpoint.config.numLayers + 1
    for (const [name, file, level] of [
      ['q4-int8', 'onnx/model_q4.onnx', 4],
      ['q8-int8', 'onnx/model_quantized.onnx', 4],
      ['q4-float32', 'onnx/model_q4.onnx', 0],
    ] as const) {
      const config = JSON.parse(readFileSync(join(folderOf(name), 'config.json'), 'utf8'))
      expect(config.tiller.compute).toBe(variants[name].compute)
      const { model: graph } = await loadGraph(join(folderOf(name), file))
      const levels = graph.graph.node
        .filter((node) => node.opType === 'MatMulNBits')
        .map((node) => Number(node.attribute.find((entry) => entry.name === 'accuracy_level')?.i))
      expect(levels).toEqual(new Array(linearCount).fill(level))
    }
    const float = JSON.parse(readFileSync(join(folderOf('float32'), 'config.json'), 'utf8'))
    expect(float.tiller.compute).toBeUndefined()
  })

  it('stays within the measured bounds of float compute and of float32', async () => {
    const logits = new Map<VariantName, Float32Array>()
    for (const name of Object.keys(variants) as VariantName[])
      logits.set(name, await logitsOf(folderOf(name)))
    const measured: Record<string, LogitGaps> = {}
    for (const comparison of Object.keys(bounds)) {
      const [first, second] = comparison.split(' vs ') as [VariantName, VariantName]
      measured[comparison] = logitGaps(
        logits.get(first) ?? new Float32Array(),
        logits.get(second) ?? new Float32Array(),
        checkpoint.config.vocabSize,
      )
      console.info(`organism ${comparison}: ${JSON.stringify(measured[comparison])}`)
    }
    for (const [comparison, bound] of Object.entries(bounds)) {
      const gaps = measured[comparison]
      expect(gaps?.maximum, comparison).toBeLessThanOrEqual(bound.maximum)
      expect(gaps?.mean, comparison).toBeLessThanOrEqual(bound.mean)
      expect(gaps?.agreement, comparison).toBeGreaterThanOrEqual(bound.agreement)
    }
    // int8 compute does change the numbers (the comparison is not of a graph with itself), by far less than the
    // 4-bit weights do.
    const int8Mean = measured['q4-int8 vs q4-float32']?.mean ?? Number.NaN
    expect(int8Mean).toBeGreaterThan(0)
    expect(int8Mean).toBeLessThan((measured['q4-float32 vs float32']?.mean ?? 0) / 4)
  })

  it.each(['q4-int8', 'q8-int8'] as const)('locates the float32 graph hook sites on %s', async (name) => {
    const float = await locateHookSites(folderOf('float32'), { cache: false })
    const quantized = await locateHookSites(folderOf(name), { cache: false })
    expect(quantized.layers.length).toBe(checkpoint.config.numLayers)
    const normalize = (map: typeof float): string =>
      JSON.stringify({ ...map, graphHash: '' })
        .replaceAll('MatMulNBits', 'MatMul')
        .replaceAll('GatherBlockQuantized', 'Gather')
    expect(normalize(quantized)).toBe(normalize(float))
  })

  it('strength 0 reproduces the q4-int8 base logits bit for bit with edits at every layer and site', async () => {
    const folder = folderOf('q4-int8')
    const base = await logitsOf(folder)
    const widths = (await locateHookSites(folder)).widths
    const edits = editsAtEverySite(checkpoint.config.numLayers, widths, 31)
    const compiled = await compileGraph(folder, { edits })
    const steered = await logitsOf(folder, compiled.graphFile, steeringInputs(compiled, [0]))
    const differing = base.filter((value, index) => !Object.is(value, steered[index])).length
    expect(differing).toBe(0)
    expect(base.length).toBe(rows.reduce((total, row) => total + row.length, 0) * checkpoint.config.vocabSize)
  })
})
