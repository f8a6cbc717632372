import { describe, expect, it } from 'vitest'
import { ablation } from '../../src/main/core/methods/ablation.ts'
import { fitEdit } from '../../src/main/core/methods/index.ts'
import { dot, removeComponent } from '../../src/shared/vectors.ts'
import { contrastCase, layerSet, random } from './synthetic.ts'

const width = 12

async function fitted() {
  const { direction, positive, negative, activations } = contrastCase({
    site: 'resid_pre',
    selector: 'lastPrompt',
    layer: 2,
    width,
    rows: 20,
    seed: 40,
  })
  return { direction, positive, negative, ...(await fitEdit(ablation, activations, {})) }
}

describe('directional ablation (METHODS.md §8.5)', () => {
  it('removes r̂ = normalized mean difference at resid_pre, attn_out and mlp_out of every block, all positions', async () => {
    const { edit, positive, negative } = await fitted()
    expect(edit.interventions).toHaveLength(4 * 3)
    expect(edit.interventions.map((intervention) => `${intervention.layer}.${intervention.site}`)).toEqual([
      '0.resid_pre',
      '0.attn_out',
      '0.mlp_out',
      '1.resid_pre',
      '1.attn_out',
      '1.mlp_out',
      '2.resid_pre',
      '2.attn_out',
      '2.mlp_out',
      '3.resid_pre',
      '3.attn_out',
      '3.mlp_out',
    ])
    for (const intervention of edit.interventions) {
      expect(intervention.positions).toEqual({ kind: 'all' })
      if (intervention.op.kind !== 'project') throw new Error('expected project')
      expect(intervention.op.mode).toBe('remove')
      expect(intervention.op.rank).toBe(1)
    }
    const op = edit.interventions[0]!.op
    if (op.kind !== 'project') throw new Error('expected project')
    // Reference: r = mean(h⁺) − mean(h⁻) computed directly, then r / ‖r‖.
    const reference = new Float64Array(width)
    for (let row = 0; row < 20; row++) {
      for (let column = 0; column < width; column++) {
        reference[column]! += (positive[row * width + column]! - negative[row * width + column]!) / 20
      }
    }
    const length = Math.hypot(...reference)
    for (let column = 0; column < width; column++)
      expect(op.basis[column]).toBeCloseTo(reference[column]! / length, 6)
    // Every site and block shares the one direction.
    for (const intervention of edit.interventions) {
      if (intervention.op.kind === 'project') expect(intervention.op.basis).toEqual(op.basis)
    }
  })

  it('is idempotent and leaves no component along r̂', async () => {
    const { edit } = await fitted()
    const op = edit.interventions[0]!.op
    if (op.kind !== 'project') throw new Error('expected project')
    const draw = random(42)
    for (let trial = 0; trial < 10; trial++) {
      const x = Float32Array.from({ length: width }, () => 5 * draw.gaussian())
      const once = removeComponent(x, op.basis)
      const twice = removeComponent(once, op.basis)
      expect(Math.abs(dot(once, op.basis))).toBeLessThan(1e-5)
      for (let column = 0; column < width; column++) expect(twice[column]).toBeCloseTo(once[column]!, 5)
    }
  })

  it('refuses a zero mean difference', async () => {
    const same = Float32Array.from({ length: width }, (_, index) => index)
    const activations = layerSet({
      site: 'resid_pre',
      selector: 'lastPrompt',
      layer: 1,
      width,
      positive: same,
      negative: same,
    })
    await expect(async () => ablation.fit(activations, {})).rejects.toThrow(/resid_pre\[1\] is zero/)
  })
})
