import { describe, expect, it } from 'vitest'
import { chooseStrength } from '../../src/main/core/eval/edit-evaluation.ts'
import { sweepStrengths, type SweepRow } from '../../src/shared/evaluation.ts'
import { recommendLayer, type LayerDiagnosticRow } from '../../src/shared/layer-diagnostics.ts'

/** The rules the studio and `tiller diagnose` share for recommending a layer, and an evaluation's strength choice. */

function layer(index: number, probeAccuracy: number, separation: number): LayerDiagnosticRow {
  return { layer: index, probeAccuracy, separation, meanNorm: 1 }
}

function sweepRow(strength: number, mc1: number, fluent: boolean, mc2 = 0.5): SweepRow {
  const estimate = (value: number) => ({ value, low: value, high: value })
  return { strength, mc1: estimate(mc1), mc2: estimate(mc2), perplexity: null, klFromBase: null, fluent }
}

describe('recommendLayer', () => {
  it('takes the best probe accuracy among inner layers', () => {
    const rows = [layer(0, 1, 50), layer(1, 0.7, 9), layer(2, 0.9, 1), layer(3, 0.8, 8), layer(4, 1, 60)]
    expect(recommendLayer(rows)).toEqual({
      layer: 2,
      reason: 'Layer 2 has the best held-out probe accuracy (90 %) of the inner layers.',
    })
  })

  it('breaks ties within 2 points of accuracy by separation, then by the earlier layer', () => {
    const rows = [
      layer(0, 1, 1),
      layer(1, 0.99, 3),
      layer(2, 1, 5),
      layer(3, 1, 5),
      layer(4, 0.5, 9),
      layer(5, 1, 99),
    ]
    const chosen = recommendLayer(rows)
    expect(chosen.layer).toBe(2)
    expect(chosen.reason).toContain('among the 3 inner layers within 2 %')
  })

  it('considers every layer of a model with fewer than three', () => {
    expect(recommendLayer([layer(0, 0.6, 1), layer(1, 0.9, 1)]).layer).toBe(1)
  })
})

describe('sweepStrengths', () => {
  it('spaces seven strengths over the tested range and adds 0', () => {
    expect(sweepStrengths([-3, 3])).toEqual([-3, -2, -1, 0, 1, 2, 3])
    expect(sweepStrengths([0, 4])).toEqual([0, 0.667, 1.333, 2, 2.667, 3.333, 4])
    expect(sweepStrengths([1, 2], 3)).toEqual([0, 1, 1.5, 2])
  })
})

describe('chooseStrength', () => {
  it('picks the best validation MC1 among fluent non-zero strengths, then MC2, then the smaller magnitude', () => {
    const sweep = [
      sweepRow(0, 0.5, true),
      sweepRow(1, 0.7, true),
      sweepRow(-1, 0.7, true),
      sweepRow(2, 0.7, true, 0.6),
      sweepRow(4, 0.95, false),
    ]
    expect(chooseStrength(sweep, 0.1).strength).toBe(2)
    expect(chooseStrength(sweep.slice(0, 3), 0.1).strength).toBe(1)
  })

  it('reports the base when no strength is fluent', () => {
    const chosen = chooseStrength([sweepRow(0, 0.5, true), sweepRow(3, 0.9, false)], 0.1)
    expect(chosen.strength).toBe(0)
    expect(chosen.reason).toContain('+10 %')
  })
})
