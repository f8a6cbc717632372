import { chmodSync, cpSync, existsSync, mkdtempSync, readdirSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import {
  hookSites,
  type Edit,
  type HookSite,
  type Intervention,
  type Op,
  type PositionPolicy,
} from '../../src/shared/edit.ts'
import { householderEdit } from '../helpers/reference-householder.ts'
import { spectralReference } from '../helpers/reference-spectral.ts'
import { sharedFixture } from '../helpers/shared-fixtures.ts'

/**
 * Shared pieces of the compiler, locator, capture and steering tests: writable copies of fixtures, edits built
 * from interventions, and the direct Float32Array computation of every op (the reference the graph must match).
 */

export const ortgenaiFixture = sharedFixture('ortgenai-tiny-llama-fp16')

/** Give the owner write permission on `folder` and everything in it (copies keep the read-only source's bits). */
function makeWritable(folder: string): void {
  chmodSync(folder, 0o755)
  for (const entry of readdirSync(folder, { withFileTypes: true })) {
    const path = join(folder, entry.name)
    if (entry.isDirectory()) makeWritable(path)
    else chmodSync(path, 0o644)
  }
}

/**
 * Copy a fixture folder into a fresh temporary directory and make it writable, so compiled graphs and caches are
 * written inside it as in a user's own model folder.
 */
export function writableCopy(folder: string): string {
  if (!existsSync(folder))
    throw new Error(`Test fixture ${folder} is missing; the shared fixtures must be present.`)
  const target = join(mkdtempSync(join(tmpdir(), 'tiller-fixture-')), 'model')
  cpSync(folder, target, { recursive: true, mode: 0 })
  makeWritable(target)
  return target
}

/** An Edit holding `interventions`, with a placeholder fingerprint (the compiler does not read it). */
export function editOf(id: string, interventions: Intervention[]): Edit {
  return {
    version: 1,
    id,
    method: 'caa',
    options: {},
    model: { architecture: 'llama', layers: 0, hiddenSize: 0, tokenizerHash: '', weightsHash: '' },
    interventions,
    created: '2026-01-01T00:00:00.000Z',
    notes: '',
  }
}

/** Deterministic pseudo-random values in [-1, 1). */
export function randomVector(length: number, seed: number): Float32Array {
  let state = seed >>> 0 || 1
  return Float32Array.from({ length }, () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0
    return state / 2 ** 31 - 1
  })
}

/** `rank` orthonormal rows of width `width` (Gram–Schmidt on random vectors), `[rank, width]`. */
export function orthonormalBasis(rank: number, width: number, seed: number): Float32Array {
  const rows: Float64Array[] = []
  for (let row = 0; row < rank; row++) {
    const vector = Float64Array.from(randomVector(width, seed + row))
    for (const previous of rows) {
      let dot = 0
      for (let index = 0; index < width; index++) dot += (vector[index] ?? 0) * (previous[index] ?? 0)
      for (let index = 0; index < width; index++)
        vector[index] = (vector[index] ?? 0) - dot * (previous[index] ?? 0)
    }
    const norm = Math.hypot(...vector)
    rows.push(vector.map((value) => value / norm))
  }
  const basis = new Float32Array(rank * width)
  rows.forEach((row, index) => basis.set(Float32Array.from(row), index * width))
  return basis
}

/**
 * One op applied directly to a site value `h` `[width]` at a position with gate `g = α·mask`, `tokenIndex`
 * the position's real token index (for addAt). Float64 accumulation, float32 result.
 */
export function applyOp(op: Op, h: Float32Array, gate: number, tokenIndex: number): Float32Array {
  const width = h.length
  const out = Float32Array.from(h)
  if (op.kind === 'add') for (let i = 0; i < width; i++) out[i] = (h[i] ?? 0) + gate * (op.vector[i] ?? 0)
  else if (op.kind === 'addAt') {
    if (tokenIndex < op.count)
      for (let i = 0; i < width; i++) out[i] = (h[i] ?? 0) + gate * (op.vectors[tokenIndex * width + i] ?? 0)
  } else if (op.kind === 'scale' || op.kind === 'patch')
    for (let i = 0; i < width; i++) out[i] = (h[i] ?? 0) + gate * (h[i] ?? 0) * (op.factors[i] ?? 0)
  else if (op.kind === 'project') {
    const projected = new Float64Array(width)
    for (let row = 0; row < op.rank; row++) {
      let coordinate = 0
      for (let i = 0; i < width; i++) coordinate += (h[i] ?? 0) * (op.basis[row * width + i] ?? 0)
      for (let i = 0; i < width; i++)
        projected[i] = (projected[i] ?? 0) + coordinate * (op.basis[row * width + i] ?? 0)
    }
    for (let i = 0; i < width; i++) {
      const value = h[i] ?? 0
      out[i] =
        op.mode === 'keep' ? value + gate * ((projected[i] ?? 0) - value) : value - gate * (projected[i] ?? 0)
    }
  } else if (op.kind === 'spectral') {
    const edited = spectralReference(op, h)
    for (let i = 0; i < width; i++) out[i] = (h[i] ?? 0) + gate * ((edited[i] ?? 0) - (h[i] ?? 0))
  } else out.set(householderEdit(op, h, gate))
  return out
}

/** The ops every site is tested with, sized for `width`. */
export function opsFor(width: number, seed: number): Op[] {
  return [
    { kind: 'add', vector: randomVector(width, seed) },
    { kind: 'addAt', vectors: randomVector(2 * width, seed + 1), count: 2 },
    { kind: 'project', basis: orthonormalBasis(2, width, seed + 2), rank: 2, mode: 'keep' },
    { kind: 'project', basis: orthonormalBasis(2, width, seed + 3), rank: 2, mode: 'remove' },
    { kind: 'scale', factors: randomVector(width, seed + 4) },
  ]
}

export const allPositions: PositionPolicy = { kind: 'all' }

/**
 * Two edits over every layer and hook site at all positions, an additive one and a removing projection, sized by
 * the located `widths`: what strength-0 exactness is checked with on a whole graph.
 */
export function editsAtEverySite(
  layers: number,
  widths: Readonly<Record<HookSite, number>>,
  seed: number,
): Edit[] {
  const interventions = (kind: 'add' | 'remove'): Intervention[] =>
    Array.from({ length: layers }, (_, layer) =>
      hookSites.map((site) => {
        const [add, , , remove] = opsFor(widths[site], seed + layer)
        const op = kind === 'add' ? add : remove
        if (op === undefined) throw new Error('opsFor lost an op')
        return { layer, site, positions: allPositions, op }
      }),
    ).flat()
  return [
    editOf('add-everywhere', interventions('add')),
    editOf('remove-everywhere', interventions('remove')),
  ]
}

/** Largest absolute difference between two arrays of equal length. */
export function maxDifference(first: ArrayLike<number>, second: ArrayLike<number>): number {
  if (first.length !== second.length) throw new Error(`length ${first.length} vs ${second.length}`)
  let worst = 0
  for (let index = 0; index < first.length; index++)
    worst = Math.max(worst, Math.abs((first[index] ?? 0) - (second[index] ?? 0)))
  return worst
}
