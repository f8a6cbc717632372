import { rmSync } from 'node:fs'
import { dirname, join } from 'node:path'
import * as ort from 'onnxruntime-node'
import { afterAll, describe, expect, it } from 'vitest'
import { locateSites } from '../../src/main/core/models/locator/locate.ts'
import { modelFiles, type GraphFamily } from '../../src/main/core/models/graph-contract.ts'
import { tensorValueInfo } from '../../src/main/core/onnx/builder.ts'
import { loadModel, saveModel } from '../../src/main/core/onnx/external-data.ts'
import { GraphIndex } from '../../src/main/core/onnx/graph-index.ts'
import { exposeOutput } from '../../src/main/core/onnx/rewire.ts'
import { buildTinyModel, tinyCheckpoint } from '../helpers/tiny-models.ts'
import { referenceTrace, type ReferenceLayer } from '../helpers/reference-llama.ts'

/**
 * Node names and structure of both families (RUNTIME-NOTES §2.2, §2.3), checked three ways: the names themselves,
 * the hook-site locator finding every site, and the tensors at those names holding the reference activations.
 */

const folders: string[] = []
afterAll(() => {
  for (const folder of folders) rmSync(dirname(folder), { recursive: true, force: true })
})

const layers = 3

/** Tensor name per (layer, site) in each family; resid_post of the last builder layer is never materialized. */
const tensorsByFamily: Record<GraphFamily, (layer: number) => Partial<Record<keyof ReferenceLayer, string>>> =
  {
    builder: (layer) => ({
      attnHeads: `/model/layers.${layer}/attn/Attention/output_0`,
      attnOut: `/model/layers.${layer}/attn/o_proj/MatMul/output_0`,
      residMid: `/model/layers.${layer}/post_attention_layernorm/output_3`,
      mlpAct: `/model/layers.${layer}/mlp/Mul/output_0`,
      mlpOut: `/model/layers.${layer}/mlp/down_proj/MatMul/output_0`,
      ...(layer + 1 < layers ? { residPost: `/model/layers.${layer + 1}/input_layernorm/output_3` } : {}),
    }),
    optimum: (layer) => ({
      attnOut: `/model/layers.${layer}/self_attn/o_proj/MatMul_output_0`,
      residMid: `/model/layers.${layer}/Add_output_0`,
      mlpAct: `/model/layers.${layer}/mlp/Mul_output_0`,
      mlpOut: `/model/layers.${layer}/mlp/down_proj/MatMul_output_0`,
      residPost: `/model/layers.${layer}/Add_1_output_0`,
    }),
  }

const expectedNodes: Record<GraphFamily, string[]> = {
  builder: [
    '/model/embed_tokens/Gather',
    '/model/layers.0/input_layernorm/LayerNorm',
    '/model/layers.1/input_layernorm/SkipLayerNorm',
    '/model/layers.1/attn/q_proj/MatMul',
    '/model/layers.1/attn/k_proj/MatMul',
    '/model/layers.1/attn/v_proj/MatMul',
    '/model/layers.1/attn/q_rotary/RotaryEmbedding',
    '/model/layers.1/attn/k_rotary/RotaryEmbedding',
    '/model/layers.1/attn/Attention',
    '/model/layers.1/attn/o_proj/MatMul',
    '/model/layers.1/post_attention_layernorm/SkipLayerNorm',
    '/model/layers.1/mlp/gate_proj/MatMul',
    '/model/layers.1/mlp/up_proj/MatMul',
    '/model/layers.1/mlp/act_fn/Sigmoid',
    '/model/layers.1/mlp/act_fn/Mul',
    '/model/layers.1/mlp/Mul',
    '/model/layers.1/mlp/down_proj/MatMul',
    `/model/layers.${layers}/final_norm_layernorm/SkipLayerNorm`,
    '/lm_head/MatMul',
  ],
  optimum: [
    '/model/embed_tokens/Gather',
    '/model/layers.1/input_layernorm/Pow',
    '/model/layers.1/input_layernorm/ReduceMean',
    '/model/layers.1/input_layernorm/Sqrt',
    '/model/layers.1/input_layernorm/Div',
    '/model/layers.1/self_attn/q_proj/MatMul',
    '/model/layers.1/self_attn/k_proj/MatMul',
    '/model/layers.1/self_attn/v_proj/MatMul',
    '/model/layers.1/self_attn/Neg',
    '/model/layers.1/self_attn/Softmax',
    '/model/layers.1/self_attn/o_proj/MatMul',
    '/model/layers.1/Add',
    '/model/layers.1/mlp/gate_proj/MatMul',
    '/model/layers.1/mlp/act_fn/Sigmoid',
    '/model/layers.1/mlp/up_proj/MatMul',
    '/model/layers.1/mlp/Mul',
    '/model/layers.1/mlp/down_proj/MatMul',
    '/model/layers.1/Add_1',
    '/model/norm/Pow',
    '/lm_head/MatMul',
  ],
}

const families: GraphFamily[] = ['builder', 'optimum']

for (const family of families) {
  describe(`${family} graph structure`, () => {
    it('uses the family’s node names, ops and tensor naming', async () => {
      const folder = await buildTinyModel({ family, config: { numLayers: layers } })
      folders.push(folder)
      const { model } = await loadModel(join(folder, modelFiles.graph))
      const index = new GraphIndex(model.graph)
      for (const name of expectedNodes[family]) expect(index.node(name), name).toBeDefined()
      const microsoft = model.graph.node
        .filter((node) => node.domain === 'com.microsoft')
        .map((node) => node.opType)
      if (family === 'builder') {
        expect(new Set(microsoft)).toEqual(new Set(['SkipSimplifiedLayerNormalization', 'RotaryEmbedding']))
        expect(index.node('/model/layers.1/attn/Attention')?.domain).toBe('')
        expect(Number(model.opsetImport.find((opset) => opset.domain === '')?.version)).toBe(23)
        expect(index.node('/model/layers.1/mlp/down_proj/MatMul')?.output).toEqual([
          '/model/layers.1/mlp/down_proj/MatMul/output_0',
        ])
        expect(index.node(`/model/layers.${layers}/final_norm_layernorm/SkipLayerNorm`)?.output).toHaveLength(
          1,
        )
      } else {
        expect(microsoft).toEqual([])
        expect(index.node('/model/layers.1/Add_1')?.output).toEqual(['/model/layers.1/Add_1_output_0'])
      }
      expect(index.producer('logits')?.name).toBe('/lm_head/MatMul')
      expect(index.producer('present.2.value')).toBeDefined()

      const located = locateSites(model)
      expect(located.family).toBe(family)
      expect(located.layers).toHaveLength(layers)
      expect(located.layers[1]?.mlp_act).toEqual({
        kind: 'tensor',
        tensor: tensorsByFamily[family](1).mlpAct,
      })
    })

    it('holds the reference activations at the site tensors', async () => {
      const checkpoint = tinyCheckpoint({ config: { numLayers: layers }, seed: 9 })
      const folder = await buildTinyModel({ family, config: { numLayers: layers }, seed: 9 })
      folders.push(folder)
      const graphPath = join(folder, modelFiles.graph)
      const loaded = await loadModel(graphPath)
      const wanted: { layer: number; site: keyof ReferenceLayer; tensor: string }[] = []
      for (let layer = 0; layer < layers; layer++) {
        for (const [site, tensor] of Object.entries(tensorsByFamily[family](layer))) {
          wanted.push({ layer, site: site as keyof ReferenceLayer, tensor })
          exposeOutput(
            loaded.model.graph,
            tensorValueInfo(tensor, 'float32', ['batch_size', 'sequence_length', 'width']),
          )
        }
      }
      const hookedPath = join(dirname(graphPath), 'hooked.onnx')
      await saveModel(loaded.model, hookedPath)
      const tokens = [1, 90, 91, 92, 250]
      const session = await ort.InferenceSession.create(hookedPath)
      try {
        const feeds: Record<string, ort.Tensor> = {
          input_ids: new ort.Tensor('int64', BigInt64Array.from(tokens, BigInt), [1, tokens.length]),
          attention_mask: new ort.Tensor('int64', new BigInt64Array(tokens.length).fill(1n), [
            1,
            tokens.length,
          ]),
          position_ids: new ort.Tensor(
            'int64',
            BigInt64Array.from(tokens, (_, at) => BigInt(at)),
            [1, tokens.length],
          ),
        }
        for (let layer = 0; layer < layers; layer++) {
          for (const kind of ['key', 'value']) {
            feeds[`past_key_values.${layer}.${kind}`] = new ort.Tensor(
              'float32',
              new Float32Array(0),
              [1, 2, 0, 8],
            )
          }
        }
        if (session.inputNames.includes('num_logits_to_keep'))
          feeds['num_logits_to_keep'] = new ort.Tensor('int64', BigInt64Array.of(0n), [])
        const outputs = await session.run(feeds)
        const trace = referenceTrace(checkpoint, tokens)
        for (const { layer, site, tensor } of wanted) {
          const actual = outputs[tensor]?.data as Float32Array
          const expected = trace.layers[layer]?.[site] as Float32Array
          expect(actual.length, tensor).toBe(expected.length)
          const difference = actual.reduce(
            (largest, value, at) => Math.max(largest, Math.abs(value - (expected[at] ?? NaN))),
            0,
          )
          expect(difference, `${site} of layer ${layer} at ${tensor}`).toBeLessThan(1e-4)
        }
      } finally {
        await session.release()
      }
    })
  })
}
