import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

import { GGMLQuantizationType } from '@huggingface/gguf'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'

import { hookSites } from '../../src/shared/edit.ts'
import { compileGraph } from '../../src/main/core/edits/compiler/compile.ts'
import { steeringInputs } from '../../src/main/core/edits/steered-generation.ts'
import { writeGgufFile } from '../../src/main/core/gguf/writer.ts'
import type { LlamaConfig } from '../../src/main/core/models/checkpoint.ts'
import { exportModelFolder, type QuantizationReport } from '../../src/main/core/models/exporter/index.ts'
import { importGguf, type GgufImport } from '../../src/main/core/models/importers/gguf/import-gguf.ts'
import { locateHookSites } from '../../src/main/core/models/locator/index.ts'
import { randomCheckpoint } from '../../src/main/core/models/random-checkpoint.ts'
import type { ExtraInputs } from '../../src/main/core/runtime/step-context.ts'
import { folderLogits } from '../helpers/folder-logits.ts'
import { editsAtEverySite } from '../compiler/support.ts'
import { runTiller } from '../helpers/cli.ts'
import { logitGaps } from '../helpers/logit-gaps.ts'
import { familyCheckpointToGguf } from './helpers/family-gguf.ts'

/**
 * A small Gemma 3 GGUF (Q4_0 matrices; (1 + w) norms, four per layer, q/k norms, GELU, scaled embedding, sliding
 * local layers, tied head) imported as q4, the default int8 compute and float compute, and as float32. The Q4_0
 * blocks are written exactly, so the float-compute q4 graph gives the float32 graph's logits up to summation
 * order, and the int8 graph differs from it by int8 compute alone, within the bound below. The locator finds every
 * site of the int8 graph, and strength 0 reproduces its logits bit for bit.
 */

const config: LlamaConfig = {
  vocabSize: 300,
  hiddenSize: 64,
  intermediateSize: 96,
  numLayers: 2,
  numHeads: 4,
  numKeyValueHeads: 2,
  headDim: 16,
  rmsNormEps: 1e-6,
  ropeTheta: 10000,
  maxPositionEmbeddings: 64,
  tieWordEmbeddings: true,
  bosTokenId: 1,
  eosTokenId: 2,
  architecture: 'gemma3_text',
  slidingWindow: 5,
  slidingWindowPattern: 6,
  localRopeTheta: 10000,
  scaledEmbedding: true,
  hiddenActivation: 'gelu_tanh',
  sandwichNorms: true,
  queryPreAttentionScalar: 16,
  qkNorm: true,
}

const rows = [[1, 259, 262, 270, 5, 290, 299, 42, 17, 101, 3, 64]]

/**
 * int8 compute against float32 on this random model (the Q4_0 weights are exact, so this is int8 compute's rounding
 * of each MatMulNBits input, half of max|x|/127 per block of 32), over 12 positions × 300 logits: measured with
 * seeds 73–76 max 0.080–0.111, relative RMS 0.0099–0.0110, the same top-1 at every position. The bounds leave
 * about 2.3× on the gaps and one flipped top-1 of twelve; an unrelated random model is about 1.4 away in relative
 * RMS (gguf-families-quantized.test.ts).
 */
const int8Bound = { maximum: 0.25, relativeRms: 0.025, agreement: 11 / 12 }

let scratch = ''
let imported: GgufImport
const folders = { float32: '', q4: '', 'q4-float32': '' }
const reports = new Map<string, QuantizationReport>()

function logitsOf(folder: string, graphFile?: string, extra?: ExtraInputs): Promise<Float32Array> {
  return folderLogits(folder, rows, graphFile, extra)
}

beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'tiller-gemma3-q4-'))
  const gguf = join(scratch, 'gemma3-q4_0.gguf')
  await writeGgufFile(
    gguf,
    familyCheckpointToGguf(randomCheckpoint(config, 73), 'gemma3', { matrixType: GGMLQuantizationType.Q4_0 }),
  )
  imported = await importGguf(gguf)
  const exports = [
    ['float32', { dtype: 'float32' }],
    ['q4', { dtype: 'q4' }],
    ['q4-float32', { dtype: 'q4', compute: 'float32' }],
  ] as const
  for (const [name, options] of exports) {
    folders[name] = join(scratch, name)
    const report = await exportModelFolder(imported.checkpoint, imported.tokenizer, folders[name], {
      family: 'builder',
      ...options,
    })
    reports.set(name, report)
  }
})
afterAll(async () => {
  if (scratch !== '') await rm(scratch, { recursive: true, force: true })
})

describe('a Gemma 3 GGUF imported as q4', () => {
  it('is read as Gemma 3 and its Q4_0 blocks are written exactly at 4 bits', () => {
    expect(imported.checkpoint.config.architecture).toBe('gemma3_text')
    expect(imported.checkpoint.config.sandwichNorms).toBe(true)
    const linearCount = 7 * config.numLayers + 1
    for (const name of ['q4', 'q4-float32']) {
      expect(reports.get(name)).toMatchObject({
        exactTensors: linearCount,
        requantizedTensors: 0,
        byBits: { '4': { tensors: linearCount, maximumError: 0 } },
      })
    }
  })

  it('with float compute, gives the float32 logits (≤ 1e-4)', async () => {
    const reference = await logitsOf(folders.float32)
    const gaps = logitGaps(await logitsOf(folders['q4-float32']), reference, config.vocabSize)
    expect(gaps.maximum).toBeLessThanOrEqual(1e-4)
  })

  it('with int8 compute, stays within the stated tolerance of float32', async () => {
    const reference = await logitsOf(folders.float32)
    const gaps = logitGaps(await logitsOf(folders.q4), reference, config.vocabSize)
    console.info(`Gemma 3 q4, int8 compute against float32: ${JSON.stringify(gaps)}`)
    expect(gaps.maximum).toBeGreaterThan(0)
    expect(gaps.maximum).toBeLessThanOrEqual(int8Bound.maximum)
    expect(gaps.relativeRms).toBeLessThanOrEqual(int8Bound.relativeRms)
    expect(gaps.agreement).toBeGreaterThanOrEqual(int8Bound.agreement)
  })

  it('locates every hook site of the int8 graph, as in the float32 graph', async () => {
    const float = await locateHookSites(folders.float32, { cache: false })
    const quantized = await locateHookSites(folders.q4, { cache: false })
    expect(quantized.layers.length).toBe(config.numLayers)
    for (const layer of quantized.layers) expect(Object.keys(layer).sort()).toEqual([...hookSites].sort())
    const normalize = (map: typeof float): string =>
      JSON.stringify({ ...map, graphHash: '' })
        .replaceAll('MatMulNBits', 'MatMul')
        .replaceAll('GatherBlockQuantized', 'Gather')
    expect(normalize(quantized)).toBe(normalize(float))
  })

  it('`tiller inspect` names the compute of each q4 graph', async () => {
    const linearCount = 7 * config.numLayers + 1
    for (const [name, compute] of [
      ['q4', 'int8'],
      ['q4-float32', 'float'],
    ] as const) {
      const run = await runTiller(['inspect', '--model', folders[name], '--json'])
      expect(run.code, run.output).toBe(0)
      expect(JSON.parse(run.stdout).quantizedLinears).toEqual({
        count: linearCount,
        byBits: { '4': linearCount },
        byCompute: { [compute]: linearCount },
      })
    }
    const text = await runTiller(['inspect', '--model', folders.q4])
    expect(text.stdout).toContain(
      `quantized linear layers: ${linearCount} MatMulNBits (${linearCount} at 4 bits), int8 compute`,
    )
    const float = await runTiller(['inspect', '--model', folders.float32])
    expect(float.stdout).not.toContain('quantized linear layers')
  })

  it('strength 0 reproduces the int8 graph logits bit for bit with edits at every layer and site', async () => {
    const base = await logitsOf(folders.q4)
    const widths = (await locateHookSites(folders.q4)).widths
    const edits = editsAtEverySite(config.numLayers, widths, 41)
    const compiled = await compileGraph(folders.q4, { edits })
    const steered = await logitsOf(folders.q4, compiled.graphFile, steeringInputs(compiled, [0]))
    expect(base.length).toBe((rows[0] ?? []).length * config.vocabSize)
    expect(base.filter((value, index) => !Object.is(value, steered[index])).length).toBe(0)
  })
})
