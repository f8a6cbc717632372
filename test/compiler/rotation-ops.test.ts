import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { HookSite, Op } from '../../src/shared/edit.ts'
import { compileGraph } from '../../src/main/core/edits/compiler/compile.ts'
import { steeringInputs } from '../../src/main/core/edits/steered-generation.ts'
import { locateHookSites } from '../../src/main/core/models/locator/index.ts'
import { canonicalSite, hookOutputName } from '../../src/main/core/models/locator/hook-map.ts'
import { forwardBatch } from '../../src/main/core/runtime/forward.ts'
import { loadModel, type LoadedModel } from '../../src/main/core/runtime/model.ts'
import { featureNormReference } from '../helpers/reference-spectral.ts'
import { testModels } from './models.ts'
import { allPositions, applyOp, editOf, maxDifference, orthonormalBasis, randomVector } from './support.ts'

/**
 * `spectral` and `householder` edits compiled into real graphs (float32 and float16, both families): strength 0
 * reproduces the base logits bit for bit, and at strength 1.5 the edited site equals the float64 reference applied
 * to the captured pre-edit value, token by token (feature-norm: over the row's real tokens, padding left out).
 */

const rows = [
  [5, 6, 7, 8, 9],
  [7, 8, 9],
]
const strengths = [0, 1.5]

function rowSlice(data: ArrayLike<number>, row: number, rowCount: number): number[] {
  const size = data.length / rowCount
  return Array.from({ length: size }, (_, index) => data[row * size + index] ?? 0)
}

function opsFor(width: number): Array<{ site: HookSite; op: Op }> {
  const spectral = (
    phi: 'identity' | 'tanh' | 'squared-exponential',
    merge: 'norm' | 'feature-norm' | 'average' | 'sum',
  ) => ({
    kind: 'spectral' as const,
    keep: orthonormalBasis(3, width, 31),
    keepRank: 3,
    remove: orthonormalBasis(2, width, 37),
    removeRank: 2,
    merge,
    phi,
    phiMode: 'paper' as const,
  })
  return [
    { site: 'resid_post', op: spectral('identity', 'norm') },
    { site: 'mlp_out', op: spectral('tanh', 'average') },
    { site: 'resid_post', op: spectral('squared-exponential', 'sum') },
    { site: 'mlp_out', op: spectral('identity', 'feature-norm') },
    {
      site: 'resid_post',
      op: {
        kind: 'householder',
        probe: randomVector(width, 41),
        angleWidths: [width, 8, 1],
        angleWeights: [
          randomVector(8 * width, 43).map((value) => value / Math.sqrt(width)),
          randomVector(8, 47),
        ],
        angleBiases: [randomVector(8, 53), Float32Array.of(0.5)],
      },
    },
  ]
}

describe.each(testModels)('spectral and householder edits: $name', ({ create, activationType }) => {
  let folder = ''
  let base: LoadedModel
  let baseLogits: ArrayLike<number>
  let layer = 0
  let width = 0
  const opened: LoadedModel[] = []

  beforeAll(async () => {
    folder = await create()
    base = await loadModel(folder, { provider: 'cpu' })
    baseLogits = (await forwardBatch(base, rows, { fetch: ['logits'] })).outputs.logits
      ?.data as ArrayLike<number>
    const map = await locateHookSites(folder)
    layer = Math.floor(map.layers.length / 2)
    width = map.widths.resid_post
  })
  afterAll(async () => {
    await base.dispose()
    for (const model of opened) await model.dispose()
  })

  it('strength 0 is bit-exact; strength 1.5 matches the reference at the site', async () => {
    for (const { site, op } of opsFor(width)) {
      const label = `${op.kind} ${op.kind === 'spectral' ? `${op.phi} ${op.merge}` : ''} at ${site}`
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
      opened.push(model)
      const canonical = canonicalSite({ layer, site })
      const after = hookOutputName(site, layer)
      const before = `${hookOutputName(canonical.site, canonical.layer)}.input`
      const result = await forwardBatch(model, rows, {
        fetch: ['logits', after, before],
        extraInputs: steeringInputs(compiled, strengths),
      })
      const logits = result.outputs.logits?.data as ArrayLike<number>
      expect(rowSlice(logits, 0, 2), `${label}: row 0`).toEqual(rowSlice(baseLogits, 0, 2))
      expect(
        maxDifference(rowSlice(logits, 1, 2), rowSlice(baseLogits, 1, 2)),
        `${label}: row 1`,
      ).toBeGreaterThan(0)
      const input = result.outputs[before]?.data as Float32Array
      const output = result.outputs[after]?.data as Float32Array
      for (let row = 0; row < rows.length; row++) {
        const padding = result.leftPadding[row] ?? 0
        const tokens = Array.from({ length: result.sequence }, (_, position) => {
          const offset = (row * result.sequence + position) * width
          return input.subarray(offset, offset + width)
        })
        const gates = tokens.map((_, position) => (position >= padding ? (strengths[row] ?? 0) : 0))
        const block =
          op.kind === 'spectral' && op.merge === 'feature-norm' ? featureNormReference(op, tokens, gates) : []
        for (let position = 0; position < result.sequence; position++) {
          const offset = (row * result.sequence + position) * width
          const h = tokens[position] as Float32Array
          const expected =
            block[position] ?? (position >= padding ? applyOp(op, h, strengths[row] ?? 0, 0) : h)
          const scale = Math.max(1, ...Array.from(expected, Math.abs))
          const tolerance = activationType === 'float16' ? 4e-3 * scale : 2e-5 * scale
          expect(
            maxDifference(output.subarray(offset, offset + width), expected),
            `${label}: row ${row} position ${position}`,
          ).toBeLessThanOrEqual(tolerance)
        }
      }
    }
  })
})
