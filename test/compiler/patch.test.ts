import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Edit, Intervention, Op } from '../../src/shared/edit.ts'
import { compileGraph } from '../../src/main/core/edits/compiler/compile.ts'
import { recordPatchValues } from '../../src/main/core/edits/patch-values.ts'
import {
  preparedSteeringInputs,
  steeringInputs,
  type SteeredModel,
} from '../../src/main/core/edits/steered-generation.ts'
import { hookOutputName } from '../../src/main/core/models/locator/hook-map.ts'
import { locateHookSites } from '../../src/main/core/models/locator/index.ts'
import { forwardBatch } from '../../src/main/core/runtime/forward.ts'
import { loadModel, type LoadedModel } from '../../src/main/core/runtime/model.ts'
import * as ort from 'onnxruntime-node'
import { buildTinyModel } from '../helpers/tiny-models.ts'
import { testModels } from './models.ts'
import { editOf, maxDifference, randomVector } from './support.ts'

/**
 * The `patch` op (SADI mode=patch, METHODS.md §6.3) on tiny fp32 models of both exporter families: strength 0 is
 * the base model bit for bit at every layer, the patched values at the last prompt token are exactly
 * c + (c ⊙ δM) with c the clean values of a separate base-model capture, unmasked elements there stay frozen at
 * their clean values, and patch equals live mode when only the last layer is masked but not when layer 0 is.
 */

const site = 'mlp_gate'
const layerCount = 3
// Row 1 is left padded, so the last prompt token sits at different columns per row.
const rows = [
  [5, 6, 7, 8, 9, 10],
  [7, 8, 9, 11],
]

const families = [
  { name: 'builder', create: () => buildTinyModel({ family: 'builder', config: { numLayers: layerCount } }) },
  { name: 'optimum', create: () => buildTinyModel({ family: 'optimum', config: { numLayers: layerCount } }) },
] as const

/** δM: δ = 3 on every third element (the mask), 0 elsewhere. */
function maskedFactors(width: number, seed: number): Float32Array {
  const random = randomVector(width, seed)
  return random.map((_, index) => (index % 3 === seed % 3 ? 3 : 0))
}

function patchEdit(factorsByLayer: Float32Array[]): Edit {
  return editOf(
    'patch',
    factorsByLayer.map((factors, layer): Intervention => ({
      layer,
      site,
      positions: { kind: 'lastPromptToken' },
      op: { kind: 'patch', factors },
    })),
  )
}

function liveEdit(factorsByLayer: Float32Array[]): Edit {
  return editOf(
    'live',
    factorsByLayer.flatMap((factors, layer): Intervention[] =>
      factors.some((value) => value !== 0)
        ? [{ layer, site, positions: { kind: 'lastPromptToken' }, op: { kind: 'scale', factors } as Op }]
        : [],
    ),
  )
}

describe.each(families)('patch op on the tiny $name model', ({ create }) => {
  let folder = ''
  let base: LoadedModel
  let baseLogits: Float32Array
  let width = 0
  /** The base model's clean site values, `[layer][rows, sequence, width]`. */
  let clean: Float32Array[] = []
  let cleanLayout: { leftPadding: number[]; sequence: number } = { leftPadding: [], sequence: 0 }
  const loaded: LoadedModel[] = []
  const allHooks = Array.from({ length: layerCount }, (_, layer) => ({ layer, site }) as const)

  beforeAll(async () => {
    folder = await create()
    width = (await locateHookSites(folder)).widths[site]
    base = await loadModel(folder, { provider: 'cpu' })
    baseLogits = (await forwardBatch(base, rows, { fetch: ['logits'] })).outputs.logits?.data as Float32Array
    const hooked = await compileGraph(folder, { edits: [], hooks: allHooks })
    const capture = await loadModel(folder, {
      provider: 'cpu',
      graphFile: hooked.graphFile,
      tokenizer: base.tokenizer,
    })
    loaded.push(capture)
    const result = await forwardBatch(capture, rows, { fetch: hooked.hookOutputs })
    clean = allHooks.map(({ layer }) => result.outputs[hookOutputName(site, layer)]?.data as Float32Array)
    cleanLayout = { leftPadding: result.leftPadding, sequence: result.sequence }
  })
  afterAll(async () => {
    await base.dispose()
    for (const model of loaded) await model.dispose()
  })

  async function steered(edit: Edit): Promise<SteeredModel> {
    const compiled = await compileGraph(folder, { edits: [edit], hooks: allHooks })
    const model = await loadModel(folder, {
      provider: 'cpu',
      graphFile: compiled.graphFile,
      tokenizer: base.tokenizer,
    })
    loaded.push(model)
    return { model, compiled }
  }

  async function run(model: SteeredModel, strengths: number[]) {
    const inputs = await preparedSteeringInputs(model, rows, strengths)
    const fetch = ['logits', ...model.compiled.hookOutputs]
    return forwardBatch(model.model, rows, { fetch, extraInputs: inputs })
  }

  it('strength 0 is the base model bit for bit with every layer patched, even fed wrong clean values', async () => {
    const model = await steered(patchEdit(allHooks.map(({ layer }) => randomVector(width, 40 + layer))))
    expect(model.compiled.patchInputs.map((input) => input.name)).toEqual(
      allHooks.map(({ layer }) => `tiller_patch.${site}.${layer}`),
    )
    const zero = await run(model, [0, 0])
    expect(Array.from(zero.outputs.logits?.data as Float32Array)).toEqual(Array.from(baseLogits))
    // Deliberately wrong values in every patch input: at strength 0 the graph must not read them.
    const wrong = steeringInputs(model.compiled, [0, 0])
    const result = await forwardBatch(model.model, rows, {
      fetch: ['logits'],
      extraInputs: (step) => {
        const feeds = wrong(step)
        for (const input of model.compiled.patchInputs)
          feeds[input.name] = new ort.Tensor('float32', randomVector(step.batch * width, 7), [
            step.batch,
            width,
          ])
        return feeds
      },
    })
    expect(Array.from(result.outputs.logits?.data as Float32Array)).toEqual(Array.from(baseLogits))
    // A base row beside a steered row is still the base model exactly; the steered row moves.
    const mixed = (await run(model, [0, 1])).outputs.logits?.data as Float32Array
    const half = baseLogits.length / 2
    expect(Array.from(mixed.subarray(0, half))).toEqual(Array.from(baseLogits.subarray(0, half)))
    expect(maxDifference(mixed.subarray(half), baseLogits.subarray(half))).toBeGreaterThan(1e-4)
  })

  it('overwrites the last prompt token with c + (c ⊙ δM) exactly and freezes unmasked elements above', async () => {
    const factors = allHooks.map(({ layer }) => maskedFactors(width, layer))
    const model = await steered(patchEdit(factors))
    const result = await run(model, [1, 1])
    const { sequence, leftPadding } = cleanLayout
    let frozenMovedLive = 0
    for (const { layer } of allHooks) {
      const after = result.outputs[hookOutputName(site, layer)]?.data as Float32Array
      const before = result.outputs[`${hookOutputName(site, layer)}.input`]?.data as Float32Array
      const layerFactors = factors[layer] as Float32Array
      rows.forEach((tokens, row) => {
        const column = (leftPadding[row] ?? 0) + tokens.length - 1
        const offset = (row * sequence + column) * width
        const c = (clean[layer] as Float32Array).subarray(offset, offset + width)
        const expected = c.map((value, index) =>
          Math.fround(value + Math.fround(value * (layerFactors[index] as number))),
        )
        expect(Array.from(after.subarray(offset, offset + width)), `layer ${layer} row ${row}`).toEqual(
          Array.from(expected),
        )
        // Unmasked elements equal their clean values, although the edit below moved the live value there.
        layerFactors.forEach((factor, index) => {
          if (factor !== 0) return
          expect(after[offset + index]).toBe(c[index])
          if (before[offset + index] !== c[index]) frozenMovedLive++
        })
      })
    }
    // Above layer 0 the pre-patch values at p differ from the clean ones: the freeze is not vacuous.
    expect(frozenMovedLive).toBeGreaterThan(width)
  })

  it('equals live mode when only the last layer is masked and differs when layer 0 is', async () => {
    const none = new Float32Array(width)
    const lastOnly = allHooks.map(({ layer }) => (layer === layerCount - 1 ? maskedFactors(width, 2) : none))
    const firstOnly = allHooks.map(({ layer }) => (layer === 0 ? maskedFactors(width, 2) : none))
    const logits = async (edit: Edit) =>
      (await run(await steered(edit), [1, 1])).outputs.logits?.data as Float32Array
    const patchLast = await logits(patchEdit(lastOnly))
    const liveLast = await logits(liveEdit(lastOnly))
    expect(maxDifference(liveLast, baseLogits)).toBeGreaterThan(1e-4)
    expect(Array.from(patchLast)).toEqual(Array.from(liveLast))
    const patchFirst = await logits(patchEdit(firstOnly))
    const liveFirst = await logits(liveEdit(firstOnly))
    expect(maxDifference(patchFirst, baseLogits)).toBeGreaterThan(1e-4)
    expect(maxDifference(patchFirst, liveFirst)).toBeGreaterThan(1e-4)
  })

  it('with δ = 0 at every layer, strength 1 overwrites with the clean values and gives the base logits', async () => {
    const model = await steered(patchEdit(allHooks.map(() => new Float32Array(width))))
    const result = await run(model, [1, 1])
    expect(Array.from(result.outputs.logits?.data as Float32Array)).toEqual(Array.from(baseLogits))
  })

  it('records the clean values at each row’s last prompt token from a strength-0 pass', async () => {
    const model = await steered(patchEdit(allHooks.map(({ layer }) => maskedFactors(width, layer))))
    const values = await recordPatchValues(
      model.model,
      model.compiled,
      rows,
      steeringInputs(model.compiled, [0, 0]),
    )
    const { sequence, leftPadding } = cleanLayout
    for (const { layer } of allHooks) {
      const recorded = values?.get(`tiller_patch.${site}.${layer}`) as Float32Array
      rows.forEach((tokens, row) => {
        const offset = (row * sequence + (leftPadding[row] ?? 0) + tokens.length - 1) * width
        expect(Array.from(recorded.subarray(row * width, (row + 1) * width))).toEqual(
          Array.from((clean[layer] as Float32Array).subarray(offset, offset + width)),
        )
      })
    }
  })
})

describe.each(testModels.filter((model) => model.activationType === 'float16'))(
  'patch op strength 0 on the float16 model $name',
  ({ create }) => {
    it('is the base model bit for bit with every layer of attn_heads and mlp_gate patched', async () => {
      const folder = await create()
      const map = await locateHookSites(folder)
      const interventions = map.layers.flatMap((_, layer) =>
        (['attn_heads', 'mlp_gate'] as const).map((patchedSite): Intervention => ({
          layer,
          site: patchedSite,
          positions: { kind: 'lastPromptToken' },
          op: { kind: 'patch', factors: randomVector(map.widths[patchedSite], layer) },
        })),
      )
      const compiled = await compileGraph(folder, { edits: [editOf('patch16', interventions)] })
      const base = await loadModel(folder, { provider: 'cpu' })
      const model = await loadModel(folder, {
        provider: 'cpu',
        graphFile: compiled.graphFile,
        tokenizer: base.tokenizer,
      })
      try {
        const baseLogits = (await forwardBatch(base, rows, { fetch: ['logits'] })).outputs.logits?.data
        const inputs = await preparedSteeringInputs({ model, compiled }, rows, [0, 1])
        const logits = (await forwardBatch(model, rows, { fetch: ['logits'], extraInputs: inputs })).outputs
          .logits?.data as ArrayLike<number>
        const half = logits.length / 2
        const baseRow = Array.from(baseLogits as ArrayLike<number>).slice(0, half)
        expect(Array.from(logits).slice(0, half)).toEqual(baseRow)
        expect(
          maxDifference(
            Array.from(logits).slice(half),
            Array.from(baseLogits as ArrayLike<number>).slice(half),
          ),
        ).toBeGreaterThan(0)
      } finally {
        await base.dispose()
        await model.dispose()
      }
    })
  },
)
