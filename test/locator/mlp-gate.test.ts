import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { compileGraph } from '../../src/main/core/edits/compiler/compile.ts'
import { modelFiles } from '../../src/main/core/models/graph-contract.ts'
import { locateHookSites } from '../../src/main/core/models/locator/index.ts'
import { hookOutputName } from '../../src/main/core/models/locator/hook-map.ts'
import { locateSites } from '../../src/main/core/models/locator/locate.ts'
import { float, makeAttribute } from '../../src/main/core/onnx/builder.ts'
import { loadModel as loadGraph, saveModel } from '../../src/main/core/onnx/external-data.ts'
import type { ModelProto, NodeProto } from '../../src/main/core/onnx/proto.ts'
import { forwardBatch } from '../../src/main/core/runtime/forward.ts'
import { loadModel, type LoadedModel } from '../../src/main/core/runtime/model.ts'
import { referenceTrace } from '../helpers/reference-llama.ts'
import { buildTinyModel, tinyCheckpoint } from '../helpers/tiny-models.ts'
import { maxDifference } from '../compiler/support.ts'

/**
 * `mlp_gate` beyond the exporter's decomposed SiLU: a fused activation op (what ONNX Runtime's optimizer writes
 * for x·sigmoid(x)) is located and carries act(gate) exactly; an MLP without a gated product is refused with an
 * error naming the site.
 */

const options = { config: { numLayers: 2 }, seed: 6 }
const tokens = [1, 80, 81, 82]

function nodeNamed(model: ModelProto, pattern: RegExp): NodeProto {
  const node = model.graph.node.find((candidate) => pattern.test(candidate.name))
  if (node === undefined) throw new Error(`no node matches ${pattern.source}`)
  return node
}

/** Replace every layer's Sigmoid + Mul SiLU by one com.microsoft QuickGelu (alpha 1: x·sigmoid(x)). */
function fuseSilu(model: ModelProto): void {
  for (let layer = 0; layer < options.config.numLayers; layer++) {
    const sigmoid = nodeNamed(model, new RegExp(`layers\\.${layer}/mlp/act_fn/Sigmoid$`))
    const product = nodeNamed(model, new RegExp(`layers\\.${layer}/mlp/act_fn/Mul$`))
    const fused: NodeProto = {
      name: `/model/layers.${layer}/mlp/act_fn/QuickGelu`,
      opType: 'QuickGelu',
      domain: 'com.microsoft',
      input: [sigmoid.input[0] ?? ''],
      output: [product.output[0] ?? ''],
      attribute: [makeAttribute('alpha', float(1))],
    }
    model.graph.node.splice(model.graph.node.indexOf(sigmoid), 1, fused)
    model.graph.node.splice(model.graph.node.indexOf(product), 1)
  }
  if (!model.opsetImport.some((opset) => opset.domain === 'com.microsoft'))
    model.opsetImport.push({ domain: 'com.microsoft', version: 1 })
}

describe.each(['builder', 'optimum'] as const)('mlp_gate in %s graphs', (family) => {
  const opened: LoadedModel[] = []
  afterAll(async () => {
    for (const model of opened) await model.dispose()
  })

  it('is found behind a fused QuickGelu and captures act(gate) of the reference forward pass', async () => {
    const folder = await buildTinyModel({ family, ...options })
    const { model } = await loadGraph(join(folder, modelFiles.graph))
    fuseSilu(model)
    const graphFile = modelFiles.graph.replace(/[^/]*$/, 'model_fused.onnx')
    await saveModel(model, join(folder, graphFile))
    const map = await locateHookSites(folder, { graphFile })
    expect(map.layers[1]?.mlp_gate).toEqual({
      kind: 'tensor',
      tensor: nodeNamed(model, /layers\.1\/mlp\/act_fn\/QuickGelu$/).output[0],
    })
    const hooks = [0, 1].map((layer) => ({ layer, site: 'mlp_gate' as const }))
    const compiled = await compileGraph(folder, { edits: [], hooks }, { graphFile })
    const hooked = await loadModel(folder, { provider: 'cpu', graphFile: compiled.graphFile })
    opened.push(hooked)
    const result = await forwardBatch(hooked, [tokens], { fetch: compiled.hookOutputs })
    const trace = referenceTrace(tinyCheckpoint(options), tokens)
    for (const layer of [0, 1]) {
      const captured = result.outputs[hookOutputName('mlp_gate', layer)]?.data as Float32Array
      const expected = trace.layers[layer]?.mlpGate ?? new Float32Array()
      expect(captured.length).toBe(expected.length)
      expect(maxDifference(captured, expected), `layer ${layer}`).toBeLessThanOrEqual(1e-4)
    }
  })

  it('is refused, naming the layer and site, when down_proj reads no gated product', async () => {
    const folder = await buildTinyModel({ family, ...options })
    const { model } = await loadGraph(join(folder, modelFiles.graph))
    // An ungated MLP: down_proj reads act(gate) directly.
    const down = nodeNamed(model, /layers\.0\/mlp\/down_proj\/MatMul$/)
    down.input[0] = nodeNamed(model, /layers\.0\/mlp\/act_fn\/Mul$/).output[0] ?? ''
    expect(() => locateSites(model)).toThrow(
      /Layer 0: cannot locate mlp_gate — .*act_fn\/Mul multiplies .* by a function of itself/,
    )
    // Both factors computed through non-linearities: which one is the gate is ambiguous.
    const up = nodeNamed(model, /layers\.1\/mlp\/up_proj\/MatMul$/)
    const sigmoid = nodeNamed(model, /layers\.1\/mlp\/act_fn\/Sigmoid$/)
    down.input[0] = nodeNamed(model, /layers\.0\/mlp\/Mul$/).output[0] ?? ''
    up.output[0] = `${up.output[0] ?? ''}_raw`
    model.graph.node.push({
      name: '/model/layers.1/mlp/up_proj/Tanh',
      opType: 'Tanh',
      domain: '',
      input: [up.output[0]],
      output: [nodeNamed(model, /layers\.1\/mlp\/Mul$/).input[1] ?? ''],
      attribute: [],
    })
    expect(sigmoid.opType).toBe('Sigmoid')
    expect(() => locateSites(model)).toThrow(/Layer 1: cannot locate mlp_gate — 2 of the inputs/)
  })
})
