import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { hookSites, type HookSite, type Op } from '../../src/shared/edit.ts'
import { compileGraph } from '../../src/main/core/edits/compiler/compile.ts'
import { steeringInputs } from '../../src/main/core/edits/steered-generation.ts'
import { locateHookSites } from '../../src/main/core/models/locator/index.ts'
import { canonicalSite, hookOutputName } from '../../src/main/core/models/locator/hook-map.ts'
import { forwardBatch } from '../../src/main/core/runtime/forward.ts'
import { loadModel, type LoadedModel } from '../../src/main/core/runtime/model.ts'
import { testModels } from './models.ts'
import { allPositions, applyOp, editOf, maxDifference, opsFor } from './support.ts'

// Two rows of different lengths, so row 1 is left padded and padding must stay untouched.
const rows = [
  [5, 6, 7, 8, 9],
  [7, 8, 9],
]
const strengths = [0, 1.5]

function rowSlice(data: ArrayLike<number>, row: number, rowCount: number): number[] {
  const size = data.length / rowCount
  return Array.from({ length: size }, (_, index) => data[row * size + index] ?? 0)
}

describe.each(testModels)('every op at every site: $name', ({ create, activationType }) => {
  let folder = ''
  let base: LoadedModel
  let baseLogits: ArrayLike<number>
  let layer = 0
  const steeredModels: LoadedModel[] = []

  beforeAll(async () => {
    folder = await create()
    base = await loadModel(folder, { provider: 'cpu' })
    baseLogits = (await forwardBatch(base, rows, { fetch: ['logits'] })).outputs.logits
      ?.data as ArrayLike<number>
    const map = await locateHookSites(folder)
    layer = Math.floor(map.layers.length / 2)
  })
  afterAll(async () => {
    await base.dispose()
    for (const model of steeredModels) await model.dispose()
  })

  async function runEdit(site: HookSite, op: Op) {
    const edit = editOf(`${site}-${op.kind}`, [{ layer, site, positions: allPositions, op }])
    const compiled = await compileGraph(folder, {
      edits: [edit],
      hooks: [{ layer, site }],
      exposeEditInputs: true,
    })
    const model = await loadModel(folder, {
      provider: 'cpu',
      graphFile: compiled.graphFile,
      tokenizer: base.tokenizer,
    })
    steeredModels.push(model)
    const canonical = canonicalSite({ layer, site })
    const after = hookOutputName(site, layer)
    const before = `${hookOutputName(canonical.site, canonical.layer)}.input`
    const result = await forwardBatch(model, rows, {
      fetch: ['logits', after, before],
      extraInputs: steeringInputs(compiled, strengths),
    })
    return { result, after, before }
  }

  for (const site of hookSites) {
    it(`${site}: strength 0 reproduces the base logits bitwise; strength 1.5 matches a direct computation`, async () => {
      const width = (await locateHookSites(folder)).widths[site]
      for (const op of opsFor(width, 11)) {
        const { result, after, before } = await runEdit(site, op)
        const logits = result.outputs.logits?.data as ArrayLike<number>
        expect(rowSlice(logits, 0, 2), `${op.kind} row 0`).toEqual(rowSlice(baseLogits, 0, 2))
        expect(
          maxDifference(rowSlice(logits, 1, 2), rowSlice(baseLogits, 1, 2)),
          `${op.kind} moves row 1`,
        ).toBeGreaterThan(0)
        const input = result.outputs[before]?.data as Float32Array
        const output = result.outputs[after]?.data as Float32Array
        const sequence = result.sequence
        for (let row = 0; row < rows.length; row++) {
          const padding = result.leftPadding[row] ?? 0
          for (let position = 0; position < sequence; position++) {
            const offset = (row * sequence + position) * width
            const h = input.subarray(offset, offset + width)
            const real = position >= padding
            const expected = real ? applyOp(op, h, strengths[row] ?? 0, position - padding) : h
            const scale = Math.max(1, ...Array.from(expected, Math.abs))
            const tolerance = activationType === 'float16' ? 4e-3 * scale : 1e-5 * scale
            expect(
              maxDifference(output.subarray(offset, offset + width), expected),
              `${op.kind} row ${row} position ${position}`,
            ).toBeLessThanOrEqual(tolerance)
          }
        }
      }
    })
  }
})
