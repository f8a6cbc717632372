import { describe, expect, it } from 'vitest'
import { fitEdit, methods } from '../../src/main/core/methods/index.ts'
import { parseOptions } from '../../src/main/core/methods/method.ts'
import { activationSet } from './synthetic.ts'

/**
 * SADI's `mode` option (METHODS.md §6.3): live scales the masked units in place (one `scale` op per masked layer);
 * patch, the released code's compute-then-patch, overwrites every element of every fitted layer at the last
 * prompt token (one `patch` op per layer, zero factors where nothing is masked) with the same δM.
 */

/** Three layers of width 4 whose mean difference is exactly `differences` (rows d ± 1 against zeros). */
function differenceSet(differences: number[][]) {
  const width = differences[0]?.length ?? 0
  return activationSet({
    site: 'mlp_out',
    selector: 'last',
    layers: differences.map((_, index) => index),
    width,
    positive: differences.map((row) =>
      Float32Array.from([...row.map((value) => value + 1), ...row.map((value) => value - 1)]),
    ),
    negative: differences.map(() => new Float32Array(2 * width)),
    rows: 2,
  })
}

describe('SADI mode=patch', () => {
  const set = differenceSet([
    [0.1, 0.2, 0.3, 0.4],
    [9, 0.5, 0.6, 8],
    [0.7, 0.8, 7, 0.9],
  ])

  it('emits a patch op at every layer with the live mode’s factors, zeros where nothing is masked', async () => {
    const options = { variant: 'hidden', topK: 3, delta: 4 }
    const live = (await fitEdit(methods.sadi, set, options)).edit
    const patch = (await fitEdit(methods.sadi, set, { ...options, mode: 'patch' })).edit
    // Live: the top 3 (9, 8, 7) sit in layers 1 and 2 only.
    expect(live.interventions.map((entry) => [entry.layer, entry.op.kind])).toEqual([
      [1, 'scale'],
      [2, 'scale'],
    ])
    expect(patch.interventions.map((entry) => [entry.layer, entry.op.kind, entry.positions.kind])).toEqual([
      [0, 'patch', 'lastPromptToken'],
      [1, 'patch', 'lastPromptToken'],
      [2, 'patch', 'lastPromptToken'],
    ])
    const factors = (layer: number) => {
      const op = patch.interventions[layer]?.op
      return op?.kind === 'patch' ? Array.from(op.factors) : []
    }
    expect(factors(0)).toEqual([0, 0, 0, 0])
    expect(factors(1)).toEqual([4, 0, 0, 4])
    expect(factors(2)).toEqual([0, 0, 4, 0])
    for (const entry of live.interventions) {
      if (entry.op.kind !== 'scale') throw new Error('live mode scales')
      expect(factors(entry.layer)).toEqual(Array.from(entry.op.factors))
    }
    expect(patch.options).toMatchObject({ mode: 'patch' })
  })

  it('defaults to live and refuses an unknown mode naming the option', () => {
    expect(parseOptions(methods.sadi, {}).mode).toBe('live')
    expect(() => parseOptions(methods.sadi, { mode: 'replay' })).toThrow(/option "mode"/)
  })
})
