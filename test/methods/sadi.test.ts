import { describe, expect, it } from 'vitest'
import type { Intervention } from '../../src/shared/edit.ts'
import { fitEdit, methods } from '../../src/main/core/methods/index.ts'
import { parseOptions } from '../../src/main/core/methods/method.ts'
import { topUnits, unitScores } from '../../src/main/core/methods/sadi-mask.ts'
import { activationSet } from './synthetic.ts'

/** Two pairs whose mean difference per layer is exactly `differences` (negative side zero, rows averaging to it). */
function differenceSet(site: 'attn_heads' | 'mlp_out', differences: number[][], heads?: number) {
  const width = differences[0]?.length ?? 0
  return activationSet({
    site,
    selector: 'last',
    layers: differences.map((_, index) => index),
    width,
    ...(heads === undefined ? {} : { heads }),
    // Rows d + 1 and d − 1 average to d, so the mean difference is d while single pairs differ from it.
    positive: differences.map((row) =>
      Float32Array.from([...row.map((value) => value + 1), ...row.map((value) => value - 1)]),
    ),
    negative: differences.map(() => new Float32Array(2 * width)),
    rows: 2,
  })
}

/** The scale op in float32 at strength α, as the compiler lowers it: h + α·(h ⊙ factors). */
function applyScale(h: Float32Array, intervention: Intervention, strength: number): Float32Array {
  if (intervention.op.kind !== 'scale') throw new Error('SADI edits scale')
  const factors = intervention.op.factors
  return h.map((value, index) => value + strength * (value * factors[index]!))
}

describe('SADI (METHODS.md §6)', () => {
  it('scores a head by the mean of its headDim differences', () => {
    // One layer, 2 heads × 3 dims. Pair differences: (1,2,3 | 0,0,6) and (3,2,1 | 0,0,0) → D = (2,2,2 | 0,0,3).
    const activations = activationSet({
      site: 'attn_heads',
      selector: 'last',
      layers: [0],
      width: 6,
      heads: 2,
      positive: [Float32Array.of(1, 2, 3, 0, 0, 6, 4, 2, 1, 1, 1, 1)],
      negative: [Float32Array.of(0, 0, 0, 0, 0, 0, 1, 0, 0, 1, 1, 1)],
      rows: 2,
    })
    expect(unitScores(activations, 3)).toEqual([
      { layerIndex: 0, unit: 0, score: 2 },
      { layerIndex: 0, unit: 1, score: 1 },
    ])
  })

  it('recovers the top-K set of a known ranking over all layers, signed or by magnitude, stable on ties', () => {
    const set = differenceSet('mlp_out', [
      [0.5, -9, 3, 0.1],
      [7, 0.2, -4, 3],
    ])
    const scores = unitScores(set, 1)
    const names = (entries: ReturnType<typeof topUnits>) =>
      entries.map((entry) => `${entry.layerIndex}:${entry.unit}`)
    // Signed: 7, then the two 3s in (layer, unit) order, then 0.5.
    expect(names(topUnits(scores, 4, 'signed'))).toEqual(['1:0', '0:2', '1:3', '0:0'])
    expect(names(topUnits(scores, 4, 'absolute'))).toEqual(['0:1', '1:0', '1:2', '0:2'])
  })

  it('multiplies the masked elements by 1 + δ at the last prompt token and leaves the rest exactly', async () => {
    const set = differenceSet('mlp_out', [
      [0.5, -9, 3, 0.1],
      [7, 0.2, -4, 3],
    ])
    const { edit } = await fitEdit(methods.sadi, set, { variant: 'hidden', topK: 2, delta: 4 })
    expect(edit.interventions.map((entry) => [entry.layer, entry.site, entry.positions])).toEqual([
      [0, 'mlp_out', { kind: 'lastPromptToken' }],
      [1, 'mlp_out', { kind: 'lastPromptToken' }],
    ])
    const h = Float32Array.of(1.5, -2.25, 3.125, 0.7)
    const layer0 = applyScale(h, edit.interventions[0]!, 1)
    const layer1 = applyScale(h, edit.interventions[1]!, 1)
    // Top 2 signed: layer 1 element 0 (7) and layer 0 element 2 (3, ahead of layer 1's tie).
    expect(Array.from(layer0)).toEqual([h[0], h[1], Math.fround(5 * h[2]!), h[3]])
    expect(Array.from(layer1)).toEqual([Math.fround(5 * h[0]!), h[1], h[2], h[3]])
    expect(applyScale(h, edit.interventions[0]!, 0)).toEqual(h)
  })

  it('scales the whole slice of each selected head by the default δ = 9', async () => {
    // Layer 0: heads (2 dims each) score 1, 5, 2; layer 1: 4, 0, 3. Default head K = 4 → 5, 4, 3, 2.
    const set = differenceSet(
      'attn_heads',
      [
        [1, 1, 6, 4, 2, 2],
        [4, 4, 0, 0, 3, 3],
      ],
      3,
    )
    const { edit } = await fitEdit(methods.sadi, set, {})
    const factors = edit.interventions.map((entry) =>
      entry.op.kind === 'scale' ? Array.from(entry.op.factors) : [],
    )
    expect(factors).toEqual([
      [0, 0, 9, 9, 9, 9],
      [9, 9, 0, 0, 9, 9],
    ])
  })

  it('NEURON ranks single mlp_gate elements and scales them at the last prompt token', async () => {
    // Layer 0 D = (0.2, −3, 1.5), layer 1 D = (2, 0.1, −0.4): the top 3 signed are 2, 1.5, 0.2.
    const set = {
      ...differenceSet('mlp_out', [
        [0.2, -3, 1.5],
        [2, 0.1, -0.4],
      ]),
      site: 'mlp_gate' as const,
    }
    const { edit, fit } = await fitEdit(methods.sadi, set, { variant: 'neuron', topK: 3 })
    expect(edit.interventions.map((entry) => [entry.layer, entry.site, entry.positions.kind])).toEqual([
      [0, 'mlp_gate', 'lastPromptToken'],
      [1, 'mlp_gate', 'lastPromptToken'],
    ])
    const factors = edit.interventions.map((entry) =>
      entry.op.kind === 'scale' ? Array.from(entry.op.factors) : [],
    )
    expect(factors).toEqual([
      [29, 0, 29],
      [29, 0, 0],
    ])
    expect(fit.notes.join('\n')).toContain('large gains')
    expect(methods.sadi.capture(parseOptions(methods.sadi, { variant: 'neuron' }), 4).site).toBe('mlp_gate')
  })

  it('with δ = 0 the edit is the identity', async () => {
    const set = differenceSet('mlp_out', [[1, 2, 3]])
    const { edit } = await fitEdit(methods.sadi, set, { variant: 'hidden', topK: 3, delta: 0 })
    const h = Float32Array.of(0.1, -7, 12345.678)
    expect(applyScale(h, edit.interventions[0]!, 1)).toEqual(h)
  })

  it('defaults to HEAD with K = 4, s = 10, signed ranking, every layer', () => {
    const options = parseOptions(methods.sadi, {})
    expect(options).toMatchObject({ variant: 'head', rank: 'signed', mode: 'live' })
    expect(methods.sadi.capture(options, 5)).toMatchObject({
      site: 'attn_heads',
      selector: 'last',
      layers: [0, 1, 2, 3, 4],
    })
  })

  it('refuses bad input with errors naming the option or the problem', async () => {
    const set = differenceSet('mlp_out', [[1, 2, 3]])
    expect(() => parseOptions(methods.sadi, { topK: 0 })).toThrow(/option "topK"/)
    await expect(fitEdit(methods.sadi, set, { variant: 'hidden', topK: 4 })).rejects.toThrow(
      /option "topK" is 4.*only 3 elements; choose 1…3/,
    )
    const oneClass = { ...set, negative: set.positive.map((matrix) => matrix.slice()) }
    await expect(fitEdit(methods.sadi, oneClass, { variant: 'hidden', topK: 1 })).rejects.toThrow(
      /one class only/,
    )
    const onePair = {
      ...set,
      rows: 1,
      positive: [set.positive[0]!.slice(0, 3)],
      negative: [new Float32Array(3)],
    }
    await expect(fitEdit(methods.sadi, onePair, { variant: 'hidden', topK: 1 })).rejects.toThrow(/at least 2/)
    const withNaN = { ...set, positive: [Float32Array.of(1, Number.POSITIVE_INFINITY, 3, 1, 2, 3)] }
    await expect(fitEdit(methods.sadi, withNaN, { variant: 'hidden', topK: 1 })).rejects.toThrow(
      /not a finite number/,
    )
    await expect(fitEdit(methods.sadi, set, { variant: 'head' })).rejects.toThrow(/attn_heads\/last/)
    expect(() => parseOptions(methods.sadi, { rank: 'loudest' })).toThrow(/option "rank"/)
  })
})
