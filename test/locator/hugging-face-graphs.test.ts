import { rmSync } from 'node:fs'
import { dirname } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { hookSites, type Intervention } from '../../src/shared/edit.ts'
import type { VariantName } from '../../src/shared/model-variants.ts'
import { compileGraph } from '../../src/main/core/edits/compiler/compile.ts'
import { steeringInputs } from '../../src/main/core/edits/steered-generation.ts'
import { locateHookSites } from '../../src/main/core/models/locator/index.ts'
import { listModelVariants, variantGraphFile } from '../../src/main/core/models/variants.ts'
import { loadModel as loadGraph } from '../../src/main/core/onnx/external-data.ts'
import { forwardBatch } from '../../src/main/core/runtime/forward.ts'
import { loadModel } from '../../src/main/core/runtime/model.ts'
import { editOf, randomVector } from '../compiler/support.ts'
import { buildTinyModel, type TinyModelOptions } from '../helpers/tiny-models.ts'
import { writeQuantizedGraph } from './quantize.ts'

/**
 * The graph shapes of the ONNX folders Transformers.js users download, written here by Tiller's exporter (and the
 * quantizer rewrites of quantize.ts) under the variant names those folders use: GroupQueryAttention (com.microsoft)
 * and primitive attention, q/k/v biases (Qwen2), q/k norms (Qwen3), MatMulNBits (q4), MatMulInteger and
 * DynamicQuantizeMatMul (int8 / q8), float16 with Cast nodes around the quantized projections. In each, every
 * site of every layer is located, and an edit at all of them at strength 0 gives the base logits bit for bit.
 */

interface GraphCase {
  name: string
  model: TinyModelOptions
  /** The variant the export writes (fp32, fp16 or q4). */
  exported: VariantName
  /** A quantizer rewrite of the export, saved as this variant's file. */
  rewrite?: { kind: 'integer' | 'dynamic' | 'bnb4'; variant: VariantName }
  /** The op the loaded graph must contain, proving the shape is the one named. */
  op: string
}

const layers = { numLayers: 2 }
const qwen2 = { ...layers, architecture: 'qwen2' as const, attentionBias: true }
const qwen3 = { ...layers, architecture: 'qwen3' as const, qkNorm: true }

const cases: GraphCase[] = [
  {
    name: 'Qwen2 biases, GroupQueryAttention',
    model: { family: 'builder', attention: 'gqa', config: qwen2 },
    exported: 'fp32',
    op: 'GroupQueryAttention',
  },
  {
    name: 'Qwen3 q/k norms, GroupQueryAttention',
    model: { family: 'builder', attention: 'gqa', config: qwen3 },
    exported: 'fp32',
    op: 'GroupQueryAttention',
  },
  {
    name: 'Qwen3 q/k norms, primitive attention (optimum), q4 MatMulNBits',
    model: { family: 'optimum', dtype: 'q4', config: qwen3 },
    exported: 'q4',
    op: 'MatMulNBits',
  },
  {
    name: 'Qwen2 biases, GroupQueryAttention, q4 MatMulNBits',
    model: { family: 'builder', attention: 'gqa', dtype: 'q4', config: qwen2 },
    exported: 'q4',
    op: 'MatMulNBits',
  },
  {
    name: 'Qwen2 biases, primitive attention, int8 MatMulInteger',
    model: { family: 'optimum', config: qwen2 },
    exported: 'fp32',
    rewrite: { kind: 'integer', variant: 'int8' },
    op: 'MatMulInteger',
  },
  {
    name: 'Qwen3 q/k norms, GroupQueryAttention, q8 DynamicQuantizeMatMul',
    model: { family: 'builder', attention: 'gqa', config: qwen3 },
    exported: 'fp32',
    rewrite: { kind: 'dynamic', variant: 'q8' },
    op: 'DynamicQuantizeMatMul',
  },
  {
    name: 'Qwen2 biases, primitive attention, bnb4 MatMulBnb4 (NF4)',
    model: { family: 'optimum', config: qwen2 },
    exported: 'fp32',
    rewrite: { kind: 'bnb4', variant: 'bnb4' },
    op: 'MatMulBnb4',
  },
  {
    name: 'float16 with Casts around DynamicQuantizeMatMul (primitive attention)',
    model: { family: 'optimum', dtype: 'float16', config: layers },
    exported: 'fp16',
    rewrite: { kind: 'dynamic', variant: 'uint8' },
    op: 'Cast',
  },
]

const folders: string[] = []

afterAll(() => {
  for (const folder of folders) rmSync(dirname(folder), { recursive: true, force: true })
})

describe.each(cases)('Transformers.js graph: $name', (graphCase) => {
  it('locates every site of every layer; an edit at all of them at strength 0 is the base model exactly', async () => {
    const folder = await buildTinyModel(graphCase.model)
    folders.push(folder)
    let variant = graphCase.exported
    if (graphCase.rewrite !== undefined) {
      const source = variantGraphFile(folder, graphCase.exported)
      const name = `model_${graphCase.rewrite.variant === 'q8' ? 'quantized' : graphCase.rewrite.variant}.onnx`
      await writeQuantizedGraph(folder, source, graphCase.rewrite.kind, name)
      variant = graphCase.rewrite.variant
    }
    expect(listModelVariants(folder).map((entry) => entry.name)).toContain(variant)
    const graphFile = variantGraphFile(folder, variant)
    const { model: graph } = await loadGraph(`${folder}/${graphFile}`)
    expect(graph.graph.node.some((node) => node.opType === graphCase.op)).toBe(true)
    if (graphCase.rewrite?.kind === 'dynamic') {
      expect(graph.graph.node.some((node) => node.opType === 'DynamicQuantizeMatMul')).toBe(true)
    }

    const map = await locateHookSites(folder, { graphFile })
    expect(map.layers).toHaveLength(2)
    for (const sites of map.layers) expect(Object.keys(sites).sort()).toEqual([...hookSites].sort())

    const interventions: Intervention[] = map.layers.flatMap((_, layer) =>
      hookSites.map((site, position) => ({
        layer,
        site,
        positions: { kind: 'all' as const },
        op: { kind: 'add' as const, vector: randomVector(map.widths[site], 10 * layer + position + 1) },
      })),
    )
    const compiled = await compileGraph(
      folder,
      { edits: [editOf('every-site', interventions)] },
      { graphFile },
    )
    const base = await loadModel(folder, { provider: 'cpu', variant })
    const steered = await loadModel(folder, { provider: 'cpu', graphFile: compiled.graphFile })
    try {
      expect(base.graphPath).toBe(`${folder}/${graphFile}`)
      const rows = [[3, 4, 5, 6]]
      const logits = async (strength: number | undefined) =>
        Array.from(
          (
            await forwardBatch(strength === undefined ? base : steered, rows, {
              fetch: ['logits'],
              extraInputs: strength === undefined ? undefined : steeringInputs(compiled, [strength]),
            })
          ).outputs.logits?.data as ArrayLike<number>,
        )
      const expected = await logits(undefined)
      expect(expected.every(Number.isFinite)).toBe(true)
      expect(await logits(0)).toEqual(expected)
      expect(await logits(1)).not.toEqual(expected)
    } finally {
      await base.dispose()
      await steered.dispose()
    }
  })
})
