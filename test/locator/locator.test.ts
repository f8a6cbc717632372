import { existsSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import { beforeAll, describe, expect, it } from 'vitest'
import { hookSites } from '../../src/shared/edit.ts'
import { compileGraph } from '../../src/main/core/edits/compiler/compile.ts'
import { steeringInputs } from '../../src/main/core/edits/steered-generation.ts'
import { locateHookSites, resolveGraphPath } from '../../src/main/core/models/locator/index.ts'
import { loadModel as loadGraph, saveModel } from '../../src/main/core/onnx/external-data.ts'
import { forwardBatch } from '../../src/main/core/runtime/forward.ts'
import { loadModel } from '../../src/main/core/runtime/model.ts'
import { testModels } from '../compiler/models.ts'
import { runTiller } from '../helpers/cli.ts'
import { editOf, randomVector } from '../compiler/support.ts'
import { writeQuantizedGraph } from './quantize.ts'

const variants = ['integer', 'nbits', 'nbits-renamed'] as const

describe.each(testModels)('locator: $name', ({ create }) => {
  let folder = ''
  let graphFile = ''

  beforeAll(async () => {
    folder = await create()
    graphFile = resolveGraphPath(folder).slice(folder.length + 1)
  })

  it('finds all seven sites of every layer, validates them and caches the map per graph hash', async () => {
    const map = await locateHookSites(folder)
    expect(map.layers.length).toBeGreaterThanOrEqual(2)
    for (const sites of map.layers) {
      expect(Object.keys(sites).sort()).toEqual([...hookSites].sort())
      // act(gate) is the product's other factor: a plain tensor distinct from the product itself.
      expect(sites.mlp_gate.kind).toBe('tensor')
      expect(sites.mlp_gate).not.toEqual(sites.mlp_act)
    }
    expect(map.widths.mlp_gate).toBe(map.widths.mlp_act)
    expect(map.widths.mlp_act).toBeGreaterThan(map.widths.resid_post)
    expect(map.widths.resid_pre).toBe(map.widths.resid_post)
    expect(map.widths.attn_out).toBe(map.widths.resid_post)
    expect(map.widths.mlp_out).toBe(map.widths.resid_post)
    const cached = readdirSync(join(folder, '.tiller')).filter((name) => name.startsWith('hooks-'))
    expect(cached).toEqual([`hooks-${map.graphHash.slice(0, 16)}.json`])
    expect(await locateHookSites(folder)).toEqual(map)
  })

  it('`tiller inspect --json` prints the sites per layer with their shapes', async () => {
    const { code, stdout } = await runTiller(['inspect', '--model', folder, '--json'])
    expect(code).toBe(0)
    const printed = JSON.parse(stdout) as {
      layers: Array<{ layer: number; sites: Record<string, { shape: unknown[] }> }>
    }
    const map = await locateHookSites(folder)
    expect(printed.layers).toHaveLength(map.layers.length)
    expect(printed.layers[0]?.sites.mlp_act?.shape).toEqual(['batch', 'sequence', map.widths.mlp_act])
    expect(printed.layers[0]?.sites.mlp_gate?.shape).toEqual(['batch', 'sequence', map.widths.mlp_gate])
  })

  for (const variant of variants) {
    it(`locates the same sites in a ${variant} quantized graph, and edits it with strength 0 exact`, async () => {
      const quantized = await writeQuantizedGraph(folder, graphFile, variant, `model_${variant}.onnx`)
      const plain = await locateHookSites(folder)
      const map = await locateHookSites(folder, { graphFile: quantized })
      expect(map.widths).toEqual(plain.widths)
      expect(map.layers).toHaveLength(plain.layers.length)
      // The float activation entering MatMulInteger is found behind its DynamicQuantizeLinear.
      expect(map.layers[0]?.mlp_act).toEqual(plain.layers[0]?.mlp_act)
      // The gate activation sits between two quantized projections; its tensor is the float graph's.
      expect(map.layers.map((sites) => sites.mlp_gate)).toEqual(plain.layers.map((sites) => sites.mlp_gate))
      const vector = randomVector(map.widths.resid_post, 2)
      const compiled = await compileGraph(
        folder,
        {
          edits: [
            editOf('q', [
              { layer: 0, site: 'resid_post', positions: { kind: 'all' }, op: { kind: 'add', vector } },
              {
                layer: 1,
                site: 'mlp_gate',
                positions: { kind: 'all' },
                op: { kind: 'scale', factors: randomVector(map.widths.mlp_gate, 3) },
              },
            ]),
          ],
        },
        { graphFile: quantized },
      )
      const base = await loadModel(folder, { provider: 'cpu', graphFile: quantized })
      const steered = await loadModel(folder, {
        provider: 'cpu',
        graphFile: compiled.graphFile,
        tokenizer: base.tokenizer,
      })
      const rows = [[3, 4, 5]]
      const expected = (await forwardBatch(base, rows, { fetch: ['logits'] })).outputs.logits?.data
      const atZero = (
        await forwardBatch(steered, rows, { fetch: ['logits'], extraInputs: steeringInputs(compiled, [0]) })
      ).outputs.logits?.data
      const atOne = (
        await forwardBatch(steered, rows, { fetch: ['logits'], extraInputs: steeringInputs(compiled, [1]) })
      ).outputs.logits?.data
      expect(Array.from(atZero as ArrayLike<number>)).toEqual(Array.from(expected as ArrayLike<number>))
      expect(Array.from(atOne as ArrayLike<number>)).not.toEqual(Array.from(expected as ArrayLike<number>))
      await base.dispose()
      await steered.dispose()
    })
  }

  it('names the layer and site when a site cannot be found', async () => {
    const { model } = await loadGraph(join(folder, graphFile))
    const projection = model.graph.node.find((node) =>
      /layers\.1\/(self_attn|attn)\/o_proj\/MatMul$/.test(node.name),
    )
    expect(projection).toBeDefined()
    if (projection !== undefined) projection.name = projection.name.replace('o_proj', 'output_projection')
    const broken = graphFile.replace(/[^/]*$/, 'model_broken.onnx')
    await saveModel(model, join(folder, broken))
    await expect(locateHookSites(folder, { graphFile: broken })).rejects.toThrow(
      `${join(folder, broken)}: Layer 1: cannot locate attn_heads/attn_out`,
    )
    expect(existsSync(join(folder, broken))).toBe(true)
  })
})
