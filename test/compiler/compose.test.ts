import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Intervention, PositionPolicy } from '../../src/shared/edit.ts'
import { compileGraph } from '../../src/main/core/edits/compiler/compile.ts'
import { steeringInputs } from '../../src/main/core/edits/steered-generation.ts'
import { locateHookSites } from '../../src/main/core/models/locator/index.ts'
import { hookOutputName, type HookMap } from '../../src/main/core/models/locator/hook-map.ts'
import { halvesToFloats } from '../../src/shared/float16.ts'
import { forwardBatch } from '../../src/main/core/runtime/forward.ts'
import { loadModel, type LoadedModel } from '../../src/main/core/runtime/model.ts'
import { testModels } from './models.ts'
import { allPositions, applyOp, editOf, maxDifference, orthonormalBasis, randomVector } from './support.ts'

const rows = [
  [5, 6, 7, 8, 9, 10],
  [8, 9, 10],
]

describe.each(testModels)('edits compose: $name', ({ create, activationType }) => {
  let folder = ''
  let map: HookMap
  let base: LoadedModel
  let baseLogits: Float32Array
  const opened: LoadedModel[] = []
  const tolerance = activationType === 'float16' ? 4e-3 : 1e-5

  async function run(
    interventions: Intervention[][],
    strengths: number[],
    fetch: string[] = [],
    exposeEditInputs = false,
  ) {
    const edits = interventions.map((list, index) => editOf(`edit-${index}`, list))
    const hooks = interventions.flat().map(({ layer, site }) => ({ layer, site }))
    const compiled = await compileGraph(folder, { edits, hooks, exposeEditInputs })
    const model = await loadModel(folder, {
      provider: 'cpu',
      graphFile: compiled.graphFile,
      tokenizer: base.tokenizer,
    })
    opened.push(model)
    return forwardBatch(model, rows, {
      fetch: ['logits', ...fetch],
      extraInputs: steeringInputs(compiled, strengths),
    })
  }

  // float16 logits arrive as Uint16Array bit patterns (Node 20 has no Float16Array).
  const floats = (data: unknown): Float32Array =>
    data instanceof Float32Array ? data : halvesToFloats(data as Uint16Array)

  beforeAll(async () => {
    folder = await create()
    map = await locateHookSites(folder)
    base = await loadModel(folder, { provider: 'cpu' })
    const result = await forwardBatch(base, rows, { fetch: ['logits'] })
    baseLogits = floats(result.outputs.logits?.data)
  })
  afterAll(async () => {
    await base.dispose()
    for (const model of opened) await model.dispose()
  })

  it('an additive edit composed with its negation restores the base logits', async () => {
    const hidden = map.widths.resid_post
    const vector = randomVector(hidden, 3)
    const negated = vector.map((value) => -value)
    for (const site of ['resid_post', 'mlp_out'] as const) {
      const add = (values: Float32Array): Intervention => ({
        layer: 0,
        site,
        positions: allPositions,
        op: { kind: 'add', vector: values },
      })
      const result = await run([[add(vector)], [add(negated)]], [1, 2])
      const logits = floats(result.outputs.logits?.data)
      // fp16 graphs round h + v before − v is added, so only fp32 graphs restore the base to 1e-5.
      const scale = baseLogits.reduce((largest, value) => Math.max(largest, Math.abs(value)), 1)
      expect(maxDifference(logits, baseLogits), site).toBeLessThanOrEqual(
        (activationType === 'float16' ? 1e-2 : 1e-5) * scale,
      )
      const alone = floats((await run([[add(vector)]], [1, 2])).outputs.logits?.data)
      expect(maxDifference(alone, baseLogits), `${site} alone moves the logits`).toBeGreaterThan(0.01)
    }
  })

  it('several edits and several interventions per site apply in order, each matching a direct computation', async () => {
    const hidden = map.widths.resid_post
    const last = map.layers.length - 1
    const first: Intervention[] = [
      {
        layer: 0,
        site: 'resid_post',
        positions: allPositions,
        op: { kind: 'add', vector: randomVector(hidden, 5) },
      },
      {
        layer: last,
        site: 'mlp_act',
        positions: allPositions,
        op: { kind: 'scale', factors: randomVector(map.widths.mlp_act, 6) },
      },
    ]
    const second: Intervention[] = [
      // Same physical site as the first edit's resid_post[0]: applies after it, on its output.
      {
        layer: 1,
        site: 'resid_pre',
        positions: allPositions,
        op: { kind: 'project', basis: orthonormalBasis(1, hidden, 7), rank: 1, mode: 'remove' },
      },
      {
        layer: last,
        site: 'attn_out',
        positions: allPositions,
        op: { kind: 'add', vector: randomVector(hidden, 8) },
      },
    ]
    const fetch = [
      `${hookOutputName('resid_post', 0)}.input`,
      hookOutputName('resid_post', 0),
      `${hookOutputName('mlp_act', last)}.input`,
      hookOutputName('mlp_act', last),
      `${hookOutputName('attn_out', last)}.input`,
      hookOutputName('attn_out', last),
    ]
    const strengths = [0, 0.8]
    const result = await run([first, second], strengths, fetch, true)
    const logits = floats(result.outputs.logits?.data)
    const half = logits.length / 2
    expect(Array.from(logits.subarray(0, half))).toEqual(Array.from(baseLogits.subarray(0, half)))
    const check = (name: string, ops: Intervention['op'][], width: number) => {
      const input = result.outputs[`${name}.input`]?.data as Float32Array
      const output = result.outputs[name]?.data as Float32Array
      for (let row = 0; row < rows.length; row++) {
        const padding = result.leftPadding[row] ?? 0
        for (let position = padding; position < result.sequence; position++) {
          const offset = (row * result.sequence + position) * width
          let expected = input.subarray(offset, offset + width)
          for (const op of ops) expected = applyOp(op, expected, strengths[row] ?? 0, position - padding)
          const scale = Math.max(1, ...Array.from(expected, Math.abs))
          expect(
            maxDifference(output.subarray(offset, offset + width), expected),
            `${name} row ${row}`,
          ).toBeLessThanOrEqual(tolerance * scale)
        }
      }
    }
    check(hookOutputName('resid_post', 0), [first[0]!.op, second[0]!.op], hidden)
    check(hookOutputName('mlp_act', last), [first[1]!.op], map.widths.mlp_act)
    check(hookOutputName('attn_out', last), [second[1]!.op], hidden)
  })

  it('position policies gate which positions change; rows with different policies share one graph', async () => {
    const hidden = map.widths.resid_post
    const policies: PositionPolicy[] = [{ kind: 'lastPromptToken' }, { kind: 'promptPrefix', count: 2 }]
    const name = hookOutputName('attn_out', 0)
    for (const positions of policies) {
      const intervention: Intervention = {
        layer: 0,
        site: 'attn_out',
        positions,
        op: { kind: 'add', vector: randomVector(hidden, 9) },
      }
      const result = await run([[intervention]], [1, 1], [`${name}.input`], true)
      const withEdit = await run([[intervention]], [1, 1], [name], true)
      const before = result.outputs[`${name}.input`]?.data as Float32Array
      const after = withEdit.outputs[name]?.data as Float32Array
      for (let row = 0; row < rows.length; row++) {
        const padding = result.leftPadding[row] ?? 0
        const length = rows[row]?.length ?? 0
        for (let position = 0; position < result.sequence; position++) {
          const token = position - padding
          const edited = positions.kind === 'lastPromptToken' ? token === length - 1 : token >= 0 && token < 2
          const offset = (row * result.sequence + position) * hidden
          // float16 graphs: the pre-edit hook may carry ORT's unrounded float32 value, so compare with a margin
          // far below the edit's size (its vector has entries up to 1).
          const changed =
            maxDifference(after.subarray(offset, offset + hidden), before.subarray(offset, offset + hidden)) >
            0.05
          expect(changed, `${positions.kind} row ${row} position ${position}`).toBe(edited)
        }
      }
    }
    const mixed = await compileGraph(folder, {
      edits: [
        editOf(
          'mixed',
          policies.map((positions, index) => ({
            layer: index,
            site: 'resid_post' as const,
            positions,
            op: { kind: 'add' as const, vector: randomVector(hidden, 10 + index) },
          })),
        ),
      ],
    })
    expect(mixed.maskInputs).toEqual(['tiller_edit_mask', 'tiller_edit_mask_1'])
    expect(mixed.policies).toEqual(policies)
  })
})
