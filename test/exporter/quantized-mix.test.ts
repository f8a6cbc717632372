import { statSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

import { GGMLQuantizationType } from '@huggingface/gguf'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'

import { writeGgufFile } from '../../src/main/core/gguf/writer.ts'
import type { LlamaCheckpoint } from '../../src/main/core/models/checkpoint.ts'
import { checkpointWeightsHash, exportModelFolder } from '../../src/main/core/models/exporter/index.ts'
import type {
  LinearCompute,
  OffsetBlocks,
  QuantizationReport,
} from '../../src/main/core/models/exporter/index.ts'
import { importGguf, type GgufImport } from '../../src/main/core/models/importers/gguf/import-gguf.ts'
import { loadModel as loadGraph } from '../../src/main/core/onnx/external-data.ts'
import { forwardBatch } from '../../src/main/core/runtime/forward.ts'
import { loadModel } from '../../src/main/core/runtime/model.ts'
import { checkpointToGguf, randomCheckpoint, tinyConfig } from '../importers/helpers/gguf-model.ts'

/**
 * A Q4_K_M-like GGUF (Q4_K matrices; Q6_K output, attn_v and ffn_down of layer 0, as llama-quantize's mix gives
 * them 6 bits) exported as q4 keeps the mix: Q4_K blocks are copied with float zero points (4 bits), the Q6_K
 * tensors are requantized to 8 bits. Its logits are compared with the float32 export of the same dequantized
 * weights, and with the q4 export that requantizes everything to 4 bits (the same checkpoint without source bits,
 * which is what every q4 export did before).
 */
const rows = [[1, 259, 262, 270, 5, 290, 42, 17, 101, 3]]
const config = { ...tinyConfig, hiddenSize: 256, intermediateSize: 256, headDim: 64 }
const sixBitTensors = ['output.weight', 'blk.0.attn_v.weight', 'blk.0.ffn_down.weight']
/** q/k/v/o and gate/up/down per layer, plus the head. */
const linearCount = 7 * config.numLayers + 1

/**
 * Bound on the relative RMS gap of the mixed q4 logits to the float32 ones. The Q4_K weights are written up to float
 * rounding (s·(q + o/s) against s·q + o: about 1e-7 of a weight), so the gap is the 8-bit requantization of the three
 * Q6_K tensors: at most half a step of (max − min)/255 per block of 32, the same order as Q8_0's error, whose
 * logit gap the README's types table measures at 0.009 on a random llama with every matrix quantized. Three
 * matrices of fifteen at that error stay under 0.01; the bound leaves 2× for the seed. Measured: see the log line.
 */
const mixedBound = 0.02

/**
 * Bound on the same gap with int8 compute. The weights are as close as above (Q4_K quants at 8 bits, 1/32 of a step
 * off; Q6_K requantized to 8 bits), so the gap is ONNX Runtime rounding every MatMulNBits input to int8 per block
 * of 32 (half of max|x|/127 per element) in all fifteen matrices, which this random model amplifies through its
 * layers. Measured 0.044; the bound leaves 2.3× and stays under the 0.168 of the all-4-bit export.
 */
const int8Bound = 0.1

/**
 * Bounds for the default int8 path, whose Q4_K blocks are requantized to 4 bits with fitted zero points: the Q4_K
 * values do not lie on any 4-bit grid with an integer zero point, so the fit costs about what a 4-bit quantization
 * costs a second time. Measured: weights 0.0488 from the Q4_K values (relative RMS), logits 0.294 from float32 (this
 * random model amplifies weight errors through its layers; the 8-bit path: 0.044). Bounds about 1.6× and 2×.
 */
const fittedBound = 0.6
const fittedWeightBound = 0.08

/** Bytes of a q4 folder's external weight data. */
function dataBytes(folder: string): number {
  return statSync(join(folder, 'onnx', 'model_q4.onnx_data')).size
}

async function logitsOf(folder: string): Promise<Float32Array> {
  const model = await loadModel(folder, { provider: 'cpu' })
  try {
    const result = await forwardBatch(model, rows, { fetch: ['logits'] })
    return Float32Array.from(result.outputs.logits?.data as Float32Array)
  } finally {
    await model.dispose()
  }
}

function relativeRmsGap(logits: Float32Array, reference: Float32Array): number {
  expect(logits.length).toBe(reference.length)
  let gap = 0
  let size = 0
  reference.forEach((value, index) => {
    gap += (value - (logits[index] ?? Number.NaN)) ** 2
    size += value ** 2
  })
  return Math.sqrt(gap / size)
}

/** The same weights without the importer's record of their source bits: a q4 export requantizes all to 4 bits. */
function withoutSourceBits(checkpoint: LlamaCheckpoint): LlamaCheckpoint {
  const weights = new Map(
    [...checkpoint.weights].map(([name, tensor]) => {
      const { sourceBits: _sourceBits, ...rest } = tensor
      return [name, rest]
    }),
  )
  return { config: checkpoint.config, weights }
}

describe('q4 export of a Q4_K_M-like GGUF keeps its precision mix', () => {
  let scratch = ''
  let imported: GgufImport
  const reports = new Map<string, QuantizationReport>()

  beforeAll(async () => {
    scratch = await mkdtemp(join(tmpdir(), 'tiller-quantized-mix-'))
    const gguf = join(scratch, 'model.gguf')
    await writeGgufFile(
      gguf,
      checkpointToGguf(randomCheckpoint(config, 21), {
        matrixType: GGMLQuantizationType.Q4_K,
        tensorTypes: Object.fromEntries(sixBitTensors.map((name) => [name, GGMLQuantizationType.Q6_K])),
      }),
    )
    imported = await importGguf(gguf)
    const exports: [string, LlamaCheckpoint, 'float32' | 'q4', LinearCompute, OffsetBlocks?][] = [
      ['float32', imported.checkpoint, 'float32', 'float32'],
      ['mixed', imported.checkpoint, 'q4', 'float32'],
      ['all-4-bit', withoutSourceBits(imported.checkpoint), 'q4', 'float32'],
      ['mixed-int8', imported.checkpoint, 'q4', 'int8'],
      ['mixed-int8-8bit', imported.checkpoint, 'q4', 'int8', '8bit'],
    ]
    for (const [name, checkpoint, dtype, compute, offsetBlocks] of exports) {
      const report = await exportModelFolder(checkpoint, imported.tokenizer, join(scratch, name), {
        family: 'builder',
        dtype,
        compute,
        ...(offsetBlocks === undefined ? {} : { offsetBlocks }),
      })
      reports.set(name, report)
    }
  })
  afterAll(async () => {
    if (scratch !== '') await rm(scratch, { recursive: true, force: true })
  })

  it('records each weight source bits: Q4_K 4, Q6_K 6, norms F32 32', () => {
    const bits = (name: string) => imported.checkpoint.weights.get(name)?.sourceBits
    expect(bits('lm_head.weight')).toBe(6)
    expect(bits('model.layers.0.self_attn.v_proj.weight')).toBe(6)
    expect(bits('model.layers.0.mlp.down_proj.weight')).toBe(6)
    expect(bits('model.layers.1.mlp.down_proj.weight')).toBe(4)
    expect(bits('model.layers.0.self_attn.q_proj.weight')).toBe(4)
    expect(bits('model.norm.weight')).toBe(32)
  })

  it('writes the Q6_K tensors as 8-bit MatMulNBits and the Q4_K ones as 4-bit, and reports both', async () => {
    const { model: graph } = await loadGraph(join(scratch, 'mixed', 'onnx', 'model_q4.onnx'))
    const bitsOf = (name: string) =>
      Number(
        graph.graph.node
          .find((node) => node.opType === 'MatMulNBits' && node.name === name)
          ?.attribute.find((entry) => entry.name === 'bits')?.i,
      )
    expect(bitsOf('/lm_head/MatMulNBits')).toBe(8)
    expect(bitsOf('/model/layers.0/attn/v_proj/MatMulNBits')).toBe(8)
    expect(bitsOf('/model/layers.0/mlp/down_proj/MatMulNBits')).toBe(8)
    expect(bitsOf('/model/layers.1/mlp/down_proj/MatMulNBits')).toBe(4)
    expect(bitsOf('/model/layers.0/attn/q_proj/MatMulNBits')).toBe(4)
    const mixed = reports.get('mixed')
    expect(mixed?.byBits['8'].tensors).toBe(sixBitTensors.length)
    expect(mixed?.byBits['4'].tensors).toBe(linearCount - sixBitTensors.length)
    expect(mixed?.offsetTensors).toBe(linearCount - sixBitTensors.length)
    expect(mixed?.requantizedTensors).toBe(sixBitTensors.length)
    const before = reports.get('all-4-bit')
    expect(before?.byBits).toMatchObject({ '4': { tensors: linearCount }, '8': { tensors: 0 } })
    // 8-bit requantization of Q6_K values is finer than 4-bit: the largest weight difference shrinks accordingly.
    expect(mixed?.byBits['8'].maximumError).toBeGreaterThan(0)
    expect(mixed?.byBits['8'].maximumError).toBeLessThan((before?.maximumError ?? 0) / 8)
    expect(mixed?.byBits['4'].maximumError).toBeLessThan(1e-5)
  })

  it('gives logits close to the float32 export, much closer than an all-4-bit q4 export', async () => {
    const reference = await logitsOf(join(scratch, 'float32'))
    const mixed = relativeRmsGap(await logitsOf(join(scratch, 'mixed')), reference)
    const before = relativeRmsGap(await logitsOf(join(scratch, 'all-4-bit')), reference)
    console.info(
      `Q4_K_M-like → q4: relative RMS logit gap to float32 ${mixed.toPrecision(3)} with the mix kept ` +
        `(bound ${mixedBound}), ${before.toPrecision(3)} with every tensor at 4 bits`,
    )
    expect(mixed).toBeGreaterThan(0)
    expect(mixed).toBeLessThan(mixedBound)
    expect(mixed).toBeLessThan(before / 5)
  })

  it('with int8 compute, requantizes the Q4_K blocks to 4 bits with fitted zero points, about the GGUF size', async () => {
    const fitted = reports.get('mixed-int8')
    const quantsKept = reports.get('mixed-int8-8bit')
    // The embedding's Q4_K blocks are fitted too (gathered by GatherBlockQuantized).
    const q4kCount = linearCount - sixBitTensors.length + 1
    expect(fitted?.offsetTensors).toBe(0)
    expect(fitted?.fittedTensors).toBe(q4kCount)
    expect(fitted?.requantizedTensors).toBe(sixBitTensors.length)
    expect(fitted?.byBits).toMatchObject({
      '4': { tensors: q4kCount },
      '8': { tensors: sixBitTensors.length },
    })
    // The fitted weights sit as far from the Q4_K values as a 4-bit requantization can: between the 8-bit path's
    // 1/32 of a step and the all-4-bit export, which also requantizes the Q6_K tensors.
    expect(fitted?.fittedRelativeRms).toBeGreaterThan(0)
    expect(fitted?.fittedRelativeRms).toBeLessThan(fittedWeightBound)
    const q4Bytes = dataBytes(join(scratch, 'mixed-int8'))
    const q8Bytes = dataBytes(join(scratch, 'mixed-int8-8bit'))
    expect(q4Bytes).toBeLessThan(q8Bytes * 0.8)
    const reference = await logitsOf(join(scratch, 'float32'))
    const gap = relativeRmsGap(await logitsOf(join(scratch, 'mixed-int8')), reference)
    const kept = relativeRmsGap(await logitsOf(join(scratch, 'mixed-int8-8bit')), reference)
    console.info(
      `Q4_K_M-like → q4, int8 compute, offset blocks fitted at 4 bits: relative RMS logit gap to float32 ` +
        `${gap.toPrecision(3)} (bound ${fittedBound}; quants kept at 8 bits: ${kept.toPrecision(3)}), weights ` +
        `${fitted?.fittedRelativeRms.toPrecision(3)} from the Q4_K values, graph data ${q4Bytes} bytes against ${q8Bytes}` +
        ` (8 bits: ${quantsKept?.byBits['8'].tensors} matrices)`,
    )
    expect(gap).toBeGreaterThan(0)
    expect(gap).toBeLessThan(fittedBound)
  })

  it('with int8 compute and --offset-blocks 8bit, writes the Q4_K blocks with 8 bits and integer zero points', async () => {
    const int8 = reports.get('mixed-int8-8bit')
    expect(int8?.offsetTensors).toBe(0)
    // With the embedding's blocks.
    expect(int8?.requantizedTensors).toBe(linearCount + 1)
    expect(int8?.byBits['8'].tensors).toBe(linearCount + 1)
    // Q4_K quants kept at 8 bits: each weight moves by at most 1/32 of its Q4_K step, the zero point's rounding.
    expect(int8?.byBits['8'].maximumError).toBeLessThan((reports.get('all-4-bit')?.maximumError ?? 0) / 8)
    const { model: graph } = await loadGraph(join(scratch, 'mixed-int8-8bit', 'onnx', 'model_q4.onnx'))
    const levels = graph.graph.node
      .filter((node) => node.opType === 'MatMulNBits')
      .map((node) => Number(node.attribute.find((entry) => entry.name === 'accuracy_level')?.i))
    expect(levels).toEqual(new Array(linearCount).fill(4))
    const reference = await logitsOf(join(scratch, 'float32'))
    const gap = relativeRmsGap(await logitsOf(join(scratch, 'mixed-int8-8bit')), reference)
    console.info(
      `Q4_K_M-like → q4, int8 compute, offset blocks at 8 bits: relative RMS logit gap to float32 ${gap.toPrecision(3)} (bound ${int8Bound})`,
    )
    expect(gap).toBeGreaterThan(0)
    expect(gap).toBeLessThan(int8Bound)
  })

  it('gives the mixed and all-4-bit exports different weights hashes', () => {
    const plain = withoutSourceBits(imported.checkpoint)
    expect(checkpointWeightsHash(imported.checkpoint, 'q4')).not.toBe(checkpointWeightsHash(plain, 'q4'))
    expect(checkpointWeightsHash(imported.checkpoint, 'q8')).toBe(checkpointWeightsHash(plain, 'q8'))
    // int8 compute quantizes activations and requantizes the Q4_K blocks: another model for fingerprints.
    expect(checkpointWeightsHash(imported.checkpoint, 'q4', 'int8')).not.toBe(
      checkpointWeightsHash(imported.checkpoint, 'q4', 'float32'),
    )
    expect(checkpointWeightsHash(imported.checkpoint, 'q4', 'float32')).toBe(
      checkpointWeightsHash(imported.checkpoint, 'q4'),
    )
    // Fitted 4-bit blocks and quants kept at 8 bits are different weights.
    expect(checkpointWeightsHash(imported.checkpoint, 'q4', 'int8', '8bit')).not.toBe(
      checkpointWeightsHash(imported.checkpoint, 'q4', 'int8'),
    )
    expect(checkpointWeightsHash(imported.checkpoint, 'q4', 'int8', '4bit')).toBe(
      checkpointWeightsHash(imported.checkpoint, 'q4', 'int8'),
    )
    expect(checkpointWeightsHash(imported.checkpoint, 'float32')).toBe(
      checkpointWeightsHash(plain, 'float32'),
    )
  })
})
