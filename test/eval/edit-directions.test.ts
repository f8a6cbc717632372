import { describe, expect, it } from 'vitest'
import type { Edit, Intervention, Op } from '../../src/shared/edit.ts'
import {
  directionCosine,
  directionCosines,
  directionOf,
  type ComparedEdit,
} from '../../src/main/core/fitting/edit-directions.ts'
import { testFingerprint } from '../helpers/fingerprint.ts'

/** Edit directions per op and the cosines between them, against hand cases and a direct Float64Array sum. */

function intervention(layer: number, op: Op, site: Intervention['site'] = 'resid_post'): Intervention {
  return { layer, site, positions: { kind: 'all' }, op }
}

function edit(id: string, method: Edit['method'], interventions: Intervention[]): Edit {
  return {
    version: 1,
    id,
    method,
    options: {},
    model: testFingerprint(4, 3),
    interventions,
    created: '2026-01-01T00:00:00.000Z',
    notes: '',
  }
}

function compared(other: Edit): ComparedEdit {
  return { id: other.id, label: `${other.method} · ${other.id}`, method: other.method, edit: other }
}

const add = (...values: number[]): Op => ({ kind: 'add', vector: Float32Array.from(values) })

describe('edit directions', () => {
  it('reads a vector from add, addAt (mean of rows) and HPR’s probe, a subspace from project and SEA’s U⁺', () => {
    expect(directionOf(intervention(0, add(3, 4, 0)))?.rows).toEqual(Float64Array.of(0.6, 0.8, 0))
    const addAt: Op = { kind: 'addAt', vectors: Float32Array.of(1, 0, 0, 2, 4, 0), count: 2 }
    const mean = directionOf(intervention(0, addAt))
    expect(mean?.kind).toBe('vector')
    expect(mean?.rows[0]).toBeCloseTo(0.6, 12)
    expect(mean?.rows[1]).toBeCloseTo(0.8, 12)
    const householder: Op = {
      kind: 'householder',
      probe: Float32Array.of(0, 0, -2),
      angleWidths: [3, 1],
      angleWeights: [Float32Array.of(0, 0, 0)],
      angleBiases: [Float32Array.of(0)],
    }
    expect(directionOf(intervention(0, householder))?.rows).toEqual(Float64Array.of(0, 0, -1))
    const ablation: Op = { kind: 'project', basis: Float32Array.of(0, 1, 0), rank: 1, mode: 'remove' }
    expect(directionOf(intervention(0, ablation))).toMatchObject({ kind: 'subspace', rank: 1, width: 3 })
    const sea: Op = {
      kind: 'spectral',
      keep: Float32Array.of(1, 0, 0, 0, 1, 0),
      keepRank: 2,
      remove: Float32Array.of(0, 0, 1),
      removeRank: 1,
      merge: 'norm',
      phi: 'identity',
      phiMode: 'paper',
    }
    expect(directionOf(intervention(0, sea))).toMatchObject({ kind: 'subspace', rank: 2, width: 3 })
    // Φ-SEA's subspaces live in feature space, SADI has no direction: neither is compared.
    expect(directionOf(intervention(0, { ...sea, phi: 'tanh' }))).toBeNull()
    expect(directionOf(intervention(0, { kind: 'scale', factors: Float32Array.of(1, 1, 1) }))).toBeNull()
    expect(directionOf(intervention(0, add(0, 0, 0)))).toBeNull()
  })

  it('gives signed vector cosines, ‖B v̂‖ against a subspace and the largest principal cosine of two subspaces', () => {
    const vector = (values: number[]) => directionOf(intervention(0, add(...values)))!
    const subspace = (basis: number[], rank: number) =>
      directionOf(
        intervention(0, { kind: 'project', basis: Float32Array.from(basis), rank, mode: 'remove' }),
      )!
    expect(directionCosine(vector([1, 0, 0]), vector([-1, 1, 0]))).toBeCloseTo(-Math.SQRT1_2, 12)
    // v̂ = (0.6, 0, 0.8) against the x–y plane: ‖B v̂‖ = 0.6, whatever the sign of v.
    const plane = subspace([1, 0, 0, 0, 1, 0], 2)
    expect(directionCosine(vector([3, 0, 4]), plane)).toBeCloseTo(0.6, 12)
    expect(directionCosine(plane, vector([-3, 0, -4]))).toBeCloseTo(0.6, 12)
    // The x–y plane and the plane through x and (0, 1, 1)/√2 share x: smallest principal angle 0.
    const tilted = subspace([1, 0, 0, 0, Math.SQRT1_2, Math.SQRT1_2], 2)
    expect(directionCosine(plane, tilted)).toBeCloseTo(1, 9)
    // The y axis against the plane through (1, 0, 0) and (0, 1, 1)/√2: cos 45° (the basis is float32).
    expect(directionCosine(subspace([0, 1, 0], 1), tilted)).toBeCloseTo(Math.SQRT1_2, 7)
    // The line through (1, 0, 1)/√2 against the y–z plane: cos 45°; against the x axis alone, also cos 45°.
    const diagonal = subspace([Math.SQRT1_2, 0, Math.SQRT1_2], 1)
    expect(directionCosine(diagonal, subspace([0, 1, 0, 0, 0, 1], 2))).toBeCloseTo(Math.SQRT1_2, 7)
    // Orthogonal subspaces: 0.
    expect(directionCosine(subspace([0, 0, 1], 1), plane)).toBe(0)
  })

  it('compares an edit with others at the same layer and site only, against a direct Float64Array cosine', () => {
    const random = (seed: number) =>
      Array.from({ length: 3 }, (_, index) => Math.sin(seed * 12.9898 + index * 78.233) * 437.5)
    const own = random(1)
    const theirs = random(2)
    const fitted = edit('fitted', 'mean-diff', [intervention(2, add(...own))])
    const others = [
      edit('caa', 'caa', [intervention(2, add(...theirs)), intervention(3, add(1, 0, 0))]),
      edit('elsewhere', 'mean-diff', [intervention(1, add(...theirs))]),
      edit('other-site', 'iti', [intervention(2, add(...theirs), 'attn_out')]),
      edit('sadi', 'sadi', [intervention(2, { kind: 'scale', factors: Float32Array.of(1, 2, 3) })]),
      fitted,
    ].map(compared)
    const cosines = directionCosines(fitted, others)
    expect(cosines.map((entry) => [entry.otherId, entry.layer, entry.site, entry.own, entry.other])).toEqual([
      ['caa', 2, 'resid_post', 'vector', 'vector'],
    ])
    const first = Float32Array.from(own)
    const second = Float32Array.from(theirs)
    let dot = 0
    let firstSquares = 0
    let secondSquares = 0
    for (let index = 0; index < 3; index++) {
      dot += (first[index] as number) * (second[index] as number)
      firstSquares += (first[index] as number) ** 2
      secondSquares += (second[index] as number) ** 2
    }
    expect(cosines[0]?.cosine).toBeCloseTo(dot / Math.sqrt(firstSquares * secondSquares), 12)
    expect(cosines[0]?.otherLabel).toBe('caa · caa')
  })
})
