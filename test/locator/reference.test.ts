import { afterAll, describe, expect, it } from 'vitest'
import { hookSites, type HookSite } from '../../src/shared/edit.ts'
import type { LlamaConfig } from '../../src/main/core/models/checkpoint.ts'
import { compileGraph } from '../../src/main/core/edits/compiler/compile.ts'
import { hookOutputName } from '../../src/main/core/models/locator/hook-map.ts'
import { forwardBatch } from '../../src/main/core/runtime/forward.ts'
import { loadModel, type LoadedModel } from '../../src/main/core/runtime/model.ts'
import { referenceTrace, type ReferenceLayer } from '../helpers/reference-llama.ts'
import { buildTinyModel, tinyCheckpoint } from '../helpers/tiny-models.ts'
import { maxDifference } from '../compiler/support.ts'

const referenceField: Record<HookSite, keyof ReferenceLayer> = {
  resid_pre: 'residPre',
  attn_heads: 'attnHeads',
  attn_out: 'attnOut',
  mlp_gate: 'mlpGate',
  mlp_act: 'mlpAct',
  mlp_out: 'mlpOut',
  resid_post: 'residPost',
}

/** Gemma's sites: attn_out and mlp_out are the post-norm sub-layer outputs added to the residual (README). */
const gemmaShared: Partial<LlamaConfig> = {
  sandwichNorms: true,
  scaledEmbedding: true,
  hiddenActivation: 'gelu_tanh',
  slidingWindow: 3,
  slidingWindowPattern: 2,
}

const models: { name: string; config: Partial<LlamaConfig> }[] = [
  { name: 'llama', config: { numLayers: 3 } },
  {
    name: 'gemma2',
    config: {
      numLayers: 3,
      architecture: 'gemma2',
      ...gemmaShared,
      queryPreAttentionScalar: 20,
      attentionLogitSoftcap: 2,
      finalLogitSoftcap: 3,
    },
  },
  {
    name: 'gemma3',
    config: { numLayers: 3, architecture: 'gemma3_text', ...gemmaShared, qkNorm: true, localRopeTheta: 100 },
  },
]

describe.each(
  (['builder', 'optimum'] as const).flatMap((family) => models.map((model) => ({ family, model }))),
)('located sites carry the reference activations: $family family, $model.name', ({ family, model }) => {
  const opened: LoadedModel[] = []
  afterAll(async () => {
    for (const loaded of opened) await loaded.dispose()
  })

  it('every site of every layer equals the Float32Array reference forward pass', async () => {
    const options = { config: model.config, seed: 4 }
    const folder = await buildTinyModel({ family, ...options })
    const trace = referenceTrace(tinyCheckpoint(options), [1, 70, 71, 72, 73])
    const hooks = trace.layers.flatMap((_, layer) => hookSites.map((site) => ({ layer, site })))
    const compiled = await compileGraph(folder, { edits: [], hooks })
    const loaded = await loadModel(folder, { provider: 'cpu', graphFile: compiled.graphFile })
    opened.push(loaded)
    const result = await forwardBatch(loaded, [[1, 70, 71, 72, 73]], { fetch: compiled.hookOutputs })
    trace.layers.forEach((layer, index) => {
      for (const site of hookSites) {
        const actual = result.outputs[hookOutputName(site, index)]?.data as Float32Array
        expect(
          maxDifference(actual, layer[referenceField[site]]),
          `layer ${index} ${site}`,
        ).toBeLessThanOrEqual(1e-4)
      }
    })
  })
})
