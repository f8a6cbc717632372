import { describe, expect, it } from 'vitest'
import type { ActivationSet } from '../../src/shared/activations.ts'
import type { Edit, Intervention } from '../../src/shared/edit.ts'
import {
  activationNorms,
  meanNormByLayer,
  probeAccuracyByLayer,
  separationByLayer,
} from '../../src/main/core/eval/layer-diagnostics.ts'
import { testFingerprint } from '../helpers/fingerprint.ts'

function activationSet(layers: number[], positive: number[][][], negative: number[][][]): ActivationSet {
  const rows = positive[0]?.length ?? 0
  return {
    site: 'resid_post',
    selector: 'lastPrompt',
    layers,
    width: 2,
    positive: positive.map((matrix) => Float32Array.from(matrix.flat())),
    negative: negative.map((matrix) => Float32Array.from(matrix.flat())),
    rows,
    exampleIds: Array.from({ length: rows }, (_, row) => `pair-${row}`),
    dataHash: '',
    model: testFingerprint(2, 2),
  }
}

function edit(interventions: Omit<Intervention, 'site' | 'positions'>[]): Edit {
  return {
    version: 1,
    id: 'diagnostics',
    method: 'mean-diff',
    options: {},
    model: testFingerprint(2, 2),
    interventions: interventions.map((entry) => ({
      ...entry,
      site: 'resid_post',
      positions: { kind: 'all' },
    })),
    created: '2026-01-01T00:00:00.000Z',
    notes: '',
  }
}

describe('layer diagnostics', () => {
  it('measures held-out probe accuracy per layer', () => {
    // Layer 3: the train pairs (first two) put positives at x = +1, negatives at x = −1, so the probe is "x > 0".
    // Held out: pair 2 is right on both sides, pair 3's positive sits at x = −0.5 (wrong): 3 of 4 rows right.
    // Layer 4: train means coincide on x and differ on y; held-out rows are classified by y.
    const set = activationSet(
      [3, 4],
      [
        [
          [1, 0],
          [1, 5],
          [2, 0],
          [-0.5, 0],
        ],
        [
          [0, 1],
          [0, 1],
          [0, 1],
          [0, 1],
        ],
      ],
      [
        [
          [-1, 0],
          [-1, 5],
          [-2, 0],
          [-1, 0],
        ],
        [
          [0, -1],
          [0, -1],
          [0, 1],
          [0, 1],
        ],
      ],
    )
    expect(probeAccuracyByLayer(set)).toEqual([
      { layer: 3, value: 3 / 4 },
      { layer: 4, value: 2 / 4 },
    ])
  })

  it('computes mean norms before and after add, project and scale ops at their layers', () => {
    const set = activationSet([0, 1], [[[3, 4]], [[3, 4]]], [[[0, 0]], [[6, 8]]])
    const added = activationNorms(
      set,
      edit([{ layer: 0, op: { kind: 'add', vector: Float32Array.of(3, 4) } }]),
      2,
    )
    expect(added.before).toEqual([
      { layer: 0, value: 2.5 },
      { layer: 1, value: 7.5 },
    ])
    // [3,4] + 2·[3,4] = [9,12] (norm 15); [0,0] + [6,8] (norm 10).
    expect(added.after).toEqual([{ layer: 0, value: 12.5 }])
    const removed = activationNorms(
      set,
      edit([{ layer: 1, op: { kind: 'project', basis: Float32Array.of(1, 0), rank: 1, mode: 'remove' } }]),
      1,
    )
    // Removing x: [3,4] → [0,4], [6,8] → [0,8].
    expect(removed.after).toEqual([{ layer: 1, value: 6 }])
    const scaled = activationNorms(
      set,
      edit([{ layer: 1, op: { kind: 'scale', factors: Float32Array.of(1, 1) } }]),
      0.5,
    )
    expect(scaled.after[0]?.value).toBeCloseTo(7.5 * 1.5, 6)
  })
})

describe('separation and mean norms by layer', () => {
  it('d′ is the projected mean gap over the pooled within-side deviation (hand case)', () => {
    // Layer 0: projections on (1, 0) are 1, 3 and −1, −3: gap 4, pooled deviation √((1+1+1+1)/2) = √2.
    // Layer 1: both sides identical, so the means coincide and d′ is 0.
    const set = activationSet(
      [0, 1],
      [
        [
          [1, 0],
          [3, 0],
        ],
        [
          [0, 1],
          [0, 2],
        ],
      ],
      [
        [
          [-1, 0],
          [-3, 0],
        ],
        [
          [0, 1],
          [0, 2],
        ],
      ],
    )
    const separation = separationByLayer(set)
    expect(separation[0]?.layer).toBe(0)
    expect(separation[0]?.value).toBeCloseTo(4 / Math.SQRT2, 12)
    expect(separation[1]).toEqual({ layer: 1, value: 0 })
    expect(meanNormByLayer(set)).toEqual([
      { layer: 0, value: 2 },
      { layer: 1, value: 1.5 },
    ])
  })

  it('refuses a single pair', () => {
    const set = activationSet([0], [[[1, 0]]], [[[0, 1]]])
    expect(() => separationByLayer(set)).toThrow(/at least 2 captured pairs/)
  })
})
