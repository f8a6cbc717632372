import { mkdtemp, rm } from 'node:fs/promises'
import { readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

import { GGMLQuantizationType } from '@huggingface/gguf'
import { AutoModelForCausalLM, env, Tensor } from '@huggingface/transformers'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'

import { hookSites } from '../../src/shared/edit.ts'
import { compileGraph } from '../../src/main/core/edits/compiler/compile.ts'
import { steeringInputs } from '../../src/main/core/edits/steered-generation.ts'
import { writeGgufFile } from '../../src/main/core/gguf/writer.ts'
import type { WeightTensor } from '../../src/main/core/models/checkpoint.ts'
import { exportModelFolder, type ExportDType } from '../../src/main/core/models/exporter/index.ts'
import {
  dequantizeLinearWeight,
  quantizeLinearWeight,
} from '../../src/main/core/models/exporter/quantize-blocks.ts'
import { defaultExportDtype } from '../../src/main/core/models/importers/gguf/default-dtype.ts'
import { importGguf, type GgufImport } from '../../src/main/core/models/importers/gguf/import-gguf.ts'
import { locateHookSites } from '../../src/main/core/models/locator/index.ts'
import { loadModel as loadGraph } from '../../src/main/core/onnx/external-data.ts'
import type { ExtraInputs } from '../../src/main/core/runtime/step-context.ts'
import { folderLogits } from '../helpers/folder-logits.ts'
import {
  checkpointToGguf,
  randomCheckpoint,
  randomValues,
  tinyConfig,
} from '../importers/helpers/gguf-model.ts'
import { allPositions, editOf, opsFor } from '../compiler/support.ts'

/**
 * q4/q8 exports (MatMulNBits linear weights) with float compute: a Q4_0 GGUF's blocks are written exactly, so the
 * q4 graph computes the float32 export of the same dequantized weights up to summation order; the locator finds
 * every site; a strength-0 edit gives the base logits bit for bit. int8 compute, the default, is measured against
 * these in quantized-int8.test.ts.
 */
const rows = [[1, 259, 262, 270, 5, 290, 42]]

env.allowRemoteModels = false
env.useFSCache = false

function logitsOf(folder: string, graphFile?: string, extra?: ExtraInputs): Promise<Float32Array> {
  return folderLogits(folder, rows, graphFile, extra)
}

function largestGap(first: Float32Array, second: Float32Array): number {
  expect(first.length).toBe(second.length)
  return first.reduce((worst, value, index) => Math.max(worst, Math.abs(value - (second[index] ?? NaN))), 0)
}

describe('defaultExportDtype', () => {
  it('keeps the folder about the GGUF size', () => {
    expect(defaultExportDtype({ F32: 11, Q4_K: 14, Q6_K: 2 })).toBe('q4')
    expect(defaultExportDtype({ F32: 11, Q5_0: 20 })).toBe('q4')
    expect(defaultExportDtype({ F32: 11, Q8_0: 20 })).toBe('q8')
    expect(defaultExportDtype({ F32: 11, Q6_K: 20 })).toBe('q8')
    expect(defaultExportDtype({ F32: 11, BF16: 20 })).toBe('float16')
    expect(defaultExportDtype({ F32: 31 })).toBe('float32')
  })
})

describe('quantize-blocks', () => {
  it('copies offset-free blocks exactly and requantizes floats within half a step', () => {
    const quants = Uint8Array.from({ length: 4 * 64 }, (_, at) => (at * 7 + 3) % 16)
    const scales = Float32Array.from({ length: 8 }, (_, at) => 0.01 * (at + 1))
    const data = Float32Array.from(quants, (quant, at) =>
      Math.fround((scales[at >> 5] as number) * (quant - 8)),
    )
    const blocked: WeightTensor = {
      dtype: 'float32',
      shape: [4, 64],
      data,
      blocks: { groupSize: 32, bits: 4, zeroPoint: 8, scales, quants },
    }
    for (const bits of [4, 8] as const) {
      const exact = quantizeLinearWeight(blocked, bits, false)
      expect(exact.source).toBe('exact')
      expect(Array.from(dequantizeLinearWeight(exact))).toEqual(Array.from(data))
    }
    // Quants that do not start on a 4-byte boundary pack a byte at a time, to the same nibbles.
    const shifted = new Uint8Array(quants.length + 1)
    shifted.set(quants, 1)
    const unaligned = quantizeLinearWeight(
      { ...blocked, blocks: { groupSize: 32, bits: 4, zeroPoint: 8, scales, quants: shifted.subarray(1) } },
      4,
      false,
    )
    const aligned = quantizeLinearWeight(blocked, 4, false)
    expect(Array.from(unaligned.packed)).toEqual(Array.from(aligned.packed))
    expect(aligned.packed[0]).toBe(((quants[0] as number) & 0x0f) | ((quants[1] as number) << 4))
    const values = randomValues(4 * 64, 5, 0.3)
    for (const bits of [4, 8] as const) {
      const requantized = quantizeLinearWeight(
        { dtype: 'float32', shape: [4, 64], data: values },
        bits,
        false,
      )
      expect(requantized.source).toBe('requantized')
      const back = dequantizeLinearWeight(requantized)
      let worst = 0
      for (let at = 0; at < values.length; at++) {
        const step = requantized.scales[at >> 5] as number
        const gap = Math.abs((back[at] as number) - (values[at] as number))
        worst = Math.max(worst, gap)
        expect(gap).toBeLessThanOrEqual(step / 2 + 1e-7)
      }
      expect(requantized.maximumError).toBeCloseTo(worst, 7)
      expect(worst).toBeGreaterThan(0)
    }
  })
})

describe('quantize-blocks with integer zero points (int8 compute, and every 8-bit weight)', () => {
  // Q4_1-style blocks (value = s·q + o): block 0 has a negative offset (zero point 2.4 steps), block 1 a positive one
  // (zero point −0.3, shifted into range by c), block 2 an offset far beyond 15 steps, block 3 scale 0.
  const scales = Float32Array.of(0.02, 0.05, 0.01, 0)
  const offsets = Float32Array.of(-0.048, 0.015, -0.5, 0.25)
  const quants = Uint8Array.from({ length: 4 * 32 }, (_, at) => (at * 5 + 1) % 16)
  const data = Float32Array.from(quants, (quant, at) =>
    Math.fround((scales[at >> 5] as number) * quant + (offsets[at >> 5] as number)),
  )
  const tensor: WeightTensor = {
    dtype: 'float32',
    shape: [2, 64],
    data,
    blocks: { groupSize: 32, bits: 4, zeroPoint: 0, scales, quants, offsets },
  }

  // At 4 bits such blocks are requantized with fitted zero points instead (fitted-zero-points.test.ts).
  it.each([[8, 16]] as const)(
    '%i bits keep the quants (×%i) and move each block by at most half of its new step',
    (bits, multiplier) => {
      const weight = quantizeLinearWeight(tensor, bits, false)
      expect(weight.source).toBe('requantized')
      expect(weight.zeroPoints).toBeInstanceOf(Uint8Array)
      const back = dequantizeLinearWeight(weight)
      let worst = 0
      for (let at = 0; at < data.length; at++) {
        const block = at >> 5
        const gap = Math.abs((back[at] as number) - (data[at] as number))
        worst = Math.max(worst, gap)
        // Blocks 0 and 1 keep their quants: their step is s/m and the error half of it; blocks 2 and 3 are
        // requantized from their values, within half of their own step.
        const step = weight.scales[block] as number
        if (block < 2) expect(step).toBeCloseTo((scales[block] as number) / multiplier, 9)
        expect(gap).toBeLessThanOrEqual(step / 2 + 1e-7)
      }
      expect(weight.maximumError).toBeCloseTo(worst, 7)
    },
  )
})

describe.each(['builder', 'optimum'] as const)('q4/q8 export of a Q4_0 GGUF, %s family', (family) => {
  let scratch = ''
  let imported: GgufImport
  const folders = new Map<ExportDType, string>()
  const reports = new Map<ExportDType, Awaited<ReturnType<typeof exportModelFolder>>>()

  beforeAll(async () => {
    scratch = await mkdtemp(join(tmpdir(), 'tiller-quantized-'))
    const gguf = join(scratch, 'model.gguf')
    await writeGgufFile(
      gguf,
      checkpointToGguf(randomCheckpoint(tinyConfig, 3), { matrixType: GGMLQuantizationType.Q4_0 }),
    )
    imported = await importGguf(gguf)
    for (const dtype of ['float32', 'q4', 'q8'] as const) {
      const folder = join(scratch, dtype)
      reports.set(
        dtype,
        await exportModelFolder(imported.checkpoint, imported.tokenizer, folder, {
          family,
          dtype,
          compute: 'float32',
        }),
      )
      folders.set(dtype, folder)
    }
  })
  afterAll(async () => {
    if (scratch !== '') await rm(scratch, { recursive: true, force: true })
  })

  it('writes every linear weight as MatMulNBits copied exactly from the Q4_0 blocks', async () => {
    const linearCount = 7 * tinyConfig.numLayers + 1
    // The untied embedding's blocks too (GatherBlockQuantized).
    const blockCount = linearCount + 1
    for (const [dtype, file, bits] of [
      ['q4', 'onnx/model_q4.onnx', 4],
      ['q8', 'onnx/model_quantized.onnx', 8],
    ] as const) {
      const { model: graph } = await loadGraph(join(folders.get(dtype) ?? '', file))
      const nodes = graph.graph.node.filter((node) => node.opType === 'MatMulNBits')
      expect(nodes.length).toBe(linearCount)
      expect(
        nodes.every((node) =>
          node.attribute.some((entry) => entry.name === 'bits' && Number(entry.i) === bits),
        ),
      ).toBe(true)
      expect(
        graph.graph.node.some((node) => node.opType === 'MatMul' && /_proj|lm_head/.test(node.name)),
      ).toBe(false)
      expect(reports.get(dtype)).toEqual({
        exactTensors: blockCount,
        offsetTensors: 0,
        requantizedTensors: 0,
        fittedTensors: 0,
        fittedRelativeRms: 0,
        maximumError: 0,
        byBits: {
          '4': { tensors: bits === 4 ? blockCount : 0, maximumError: 0 },
          '8': { tensors: bits === 8 ? blockCount : 0, maximumError: 0 },
        },
      })
      const gathers = graph.graph.node.filter((node) => node.opType === 'GatherBlockQuantized')
      expect(gathers.map((node) => node.name)).toEqual(['/model/embed_tokens/GatherBlockQuantized'])
      const config = JSON.parse(readFileSync(join(folders.get(dtype) ?? '', 'config.json'), 'utf8'))
      expect(config['transformers.js_config'].dtype).toBe(dtype)
      expect(config.tiller.compute).toBe('float32')
      expect(
        nodes.every((node) =>
          node.attribute.some((entry) => entry.name === 'accuracy_level' && Number(entry.i) === 0),
        ),
      ).toBe(true)
    }
  })

  it('gives the logits of the float32 export of the dequantized weights (≤ 1e-4)', async () => {
    const reference = await logitsOf(folders.get('float32') ?? '')
    for (const dtype of ['q4', 'q8'] as const) {
      expect(largestGap(await logitsOf(folders.get(dtype) ?? ''), reference)).toBeLessThanOrEqual(1e-4)
    }
  })

  it('loads in Transformers.js (dtype from config.json) and greedy-generates the float32 tokens', async () => {
    const generated = async (folder: string): Promise<bigint[]> => {
      const model = await AutoModelForCausalLM.from_pretrained(folder, { device: 'cpu' })
      try {
        const prompt = rows[0] ?? []
        const inputIds = new Tensor('int64', BigInt64Array.from(prompt, BigInt), [1, prompt.length])
        const output = (await model.generate({
          inputs: inputIds,
          max_new_tokens: 12,
          do_sample: false,
        } as never)) as Tensor
        return Array.from(output.data as BigInt64Array).slice(prompt.length)
      } finally {
        await model.dispose()
      }
    }
    const reference = await generated(folders.get('float32') ?? '')
    expect(reference.length).toBe(12)
    for (const dtype of ['q4', 'q8'] as const)
      expect(await generated(folders.get(dtype) ?? '')).toEqual(reference)
  })

  it('locates the same hook sites as the float32 graph', async () => {
    const float = await locateHookSites(folders.get('float32') ?? '', { cache: false })
    const quantized = await locateHookSites(folders.get('q4') ?? '', { cache: false })
    expect(quantized.layers.length).toBe(tinyConfig.numLayers)
    expect(quantized.widths).toEqual(float.widths)
    expect(quantized.activationType).toBe('float32')
    const normalize = (map: typeof float): string =>
      JSON.stringify({ ...map, graphHash: '' })
        .replaceAll('MatMulNBits', 'MatMul')
        .replaceAll('GatherBlockQuantized', 'Gather')
    expect(normalize(quantized)).toBe(normalize(float))
  })

  it('strength 0 reproduces the q4 base logits bit for bit at every layer and site', async () => {
    const folder = folders.get('q4') ?? ''
    const base = await logitsOf(folder)
    const widths = (await locateHookSites(folder)).widths
    const failures: string[] = []
    let checked = 0
    for (let layer = 0; layer < tinyConfig.numLayers; layer++) {
      for (const site of hookSites) {
        const [add, , , remove] = opsFor(widths[site], 11 + layer)
        for (const op of [add, remove]) {
          if (op === undefined) throw new Error('opsFor lost an op')
          const edit = editOf(`${site}-${layer}-${op.kind}`, [{ layer, site, positions: allPositions, op }])
          const compiled = await compileGraph(folder, { edits: [edit] })
          const logits = await logitsOf(folder, compiled.graphFile, steeringInputs(compiled, [0]))
          const differing = base.filter((value, index) => !Object.is(value, logits[index])).length
          if (differing > 0) failures.push(`${site}[${layer}] ${op.kind}: ${differing} logits differ`)
          checked += 1
        }
      }
    }
    expect(failures).toEqual([])
    expect(checked).toBe(tinyConfig.numLayers * hookSites.length * 2)
  })
})

describe('q8 export of Q8_0 and Q5_0 GGUFs, q4 export of a Q4_K GGUF', () => {
  let scratch = ''
  beforeAll(async () => {
    scratch = await mkdtemp(join(tmpdir(), 'tiller-quantized-types-'))
  })
  afterAll(async () => {
    if (scratch !== '') await rm(scratch, { recursive: true, force: true })
  })

  async function exportAs(type: GGMLQuantizationType, dtype: ExportDType, hidden = 64) {
    const config = { ...tinyConfig, hiddenSize: hidden, intermediateSize: hidden * 2, headDim: hidden / 4 }
    const name = `${GGMLQuantizationType[type]}-${dtype}`
    await writeGgufFile(
      join(scratch, `${name}.gguf`),
      checkpointToGguf(randomCheckpoint(config, 4), { matrixType: type }),
    )
    const imported = await importGguf(join(scratch, `${name}.gguf`))
    const folder = join(scratch, name)
    const report = await exportModelFolder(imported.checkpoint, imported.tokenizer, folder, {
      family: 'builder',
      dtype,
      compute: 'float32',
    })
    const float = join(scratch, `${name}-float32`)
    await exportModelFolder(imported.checkpoint, imported.tokenizer, float, { family: 'builder' })
    let largestWeight = 0
    for (const [weightName, tensor] of imported.checkpoint.weights) {
      if (!/_proj|lm_head/.test(weightName)) continue
      for (const value of tensor.data as Float32Array)
        largestWeight = Math.max(largestWeight, Math.abs(value))
    }
    const reference = await logitsOf(float)
    const scale = reference.reduce((largest, value) => Math.max(largest, Math.abs(value)), 0)
    const quantized = await logitsOf(folder)
    let squaredGap = 0
    let squared = 0
    quantized.forEach((value, at) => {
      squaredGap += (value - (reference[at] as number)) ** 2
      squared += (reference[at] as number) ** 2
    })
    const relativeGap = Math.sqrt(squaredGap / squared)
    return { report, largestWeight, scale, relativeGap, gap: largestGap(quantized, reference) }
  }

  it('copies Q8_0 and Q5_0 blocks exactly into q8', async () => {
    for (const type of [GGMLQuantizationType.Q8_0, GGMLQuantizationType.Q5_0]) {
      const { report, gap } = await exportAs(type, 'q8')
      // 14 projections, the head and the embedding.
      expect(report).toEqual({
        exactTensors: 16,
        offsetTensors: 0,
        requantizedTensors: 0,
        fittedTensors: 0,
        fittedRelativeRms: 0,
        maximumError: 0,
        byBits: { '4': { tensors: 0, maximumError: 0 }, '8': { tensors: 16, maximumError: 0 } },
      })
      expect(gap).toBeLessThanOrEqual(1e-4)
    }
  })

  it('writes Q4_K blocks into q4 with float zero points, up to float rounding', async () => {
    const { report, gap, largestWeight, scale, relativeGap } = await exportAs(
      GGMLQuantizationType.Q4_K,
      'q4',
      256,
    )
    expect(report.exactTensors).toBe(0)
    expect(report.offsetTensors).toBe(15)
    expect(report.requantizedTensors).toBe(0)
    // s·(q − (−o/s)) against s·q + o: a few float32 roundings of the largest weight.
    expect(report.maximumError).toBeLessThanOrEqual(largestWeight * 2 ** -20)
    expect(gap).toBeLessThanOrEqual(1e-4)
    console.info(
      `Q4_K → q4: largest weight difference ${report.maximumError}, largest logit gap ${gap} (largest logit ${scale}), relative RMS gap ${relativeGap}`,
    )
  })

  it('writes Q4_1 blocks into q4 with float zero points', async () => {
    const { report, gap } = await exportAs(GGMLQuantizationType.Q4_1, 'q4')
    expect(report.offsetTensors).toBe(15)
    expect(report.requantizedTensors + report.exactTensors).toBe(0)
    expect(gap).toBeLessThanOrEqual(1e-4)
  })

  it('requantizes Q6_K into q4 within half a step and reports the difference', async () => {
    const { report, largestWeight, relativeGap } = await exportAs(GGMLQuantizationType.Q6_K, 'q4', 256)
    expect(report.requantizedTensors).toBe(16)
    expect(report.maximumError).toBeGreaterThan(0)
    // A block's step is at most (max − min) / 15 ≤ 2·|x|max / 15, and rounding is off by half a step at most.
    expect(report.maximumError).toBeLessThanOrEqual(largestWeight / 15 + 1e-6)
    console.info(
      `Q6_K → q4: largest weight difference ${report.maximumError}, relative RMS logit gap ${relativeGap}`,
    )
  })
})
