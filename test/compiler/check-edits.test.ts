import { describe, expect, it } from 'vitest'
import { hookSites, type Op } from '../../src/shared/edit.ts'
import { checkEdits } from '../../src/main/core/edits/compiler/check-edits.ts'
import { isTillerError } from '../../src/main/core/errors.ts'
import type { HookMap, LayerSites } from '../../src/main/core/models/locator/hook-map.ts'
import { editOf, orthonormalBasis, randomVector } from './support.ts'

/** check-edits on spectral and householder ops: every malformed field fails with a message naming it. */

const width = 6
const sites = Object.fromEntries(
  hookSites.map((site) => [site, { kind: 'tensor', tensor: site }]),
) as unknown as LayerSites
const map: HookMap = {
  version: 2,
  graphHash: '',
  family: 'optimum',
  activationType: 'float32',
  layers: [sites, sites],
  widths: { resid_pre: 6, attn_heads: 6, attn_out: 6, mlp_gate: 12, mlp_act: 12, mlp_out: 6, resid_post: 6 },
}

const spectral: Extract<Op, { kind: 'spectral' }> = {
  kind: 'spectral',
  keep: orthonormalBasis(2, width, 1),
  keepRank: 2,
  remove: new Float32Array(0),
  removeRank: 0,
  merge: 'norm',
  phi: 'tanh',
  phiMode: 'paper',
}

const householder: Extract<Op, { kind: 'householder' }> = {
  kind: 'householder',
  probe: randomVector(width, 2),
  angleWidths: [width, 3, 1],
  angleWeights: [randomVector(3 * width, 3), randomVector(3, 4)],
  angleBiases: [randomVector(3, 5), randomVector(1, 6)],
}

function check(op: Op): () => void {
  return () =>
    checkEdits([editOf('e', [{ layer: 1, site: 'resid_post', positions: { kind: 'all' }, op }])], map)
}

function expectFailure(op: Op, message: RegExp): void {
  let error: unknown
  try {
    check(op)()
  } catch (thrown) {
    error = thrown
  }
  expect(isTillerError(error, 'invalid-argument'), String(error)).toBe(true)
  expect((error as Error).message).toMatch(/^Edit e, intervention 0: /)
  expect((error as Error).message).toMatch(message)
}

describe('check-edits: spectral and householder', () => {
  it('accepts well-formed ops (ranks may be 0)', () => {
    expect(check(spectral)).not.toThrow()
    expect(
      check({ ...spectral, keep: new Float32Array(0), keepRank: 0, remove: spectral.keep, removeRank: 2 }),
    ).not.toThrow()
    expect(check(householder)).not.toThrow()
  })

  it('names the spectral field that is wrong', () => {
    expectFailure({ ...spectral, keepRank: 3 }, /op\.keep has 12 values; the site needs 18/)
    expectFailure(
      { ...spectral, removeRank: -1 },
      /op\.removeRank is -1; it must be a whole number from 0 to the width 6/,
    )
    expectFailure({ ...spectral, keepRank: 1.5 }, /op\.keepRank is 1\.5/)
    expectFailure(
      { ...spectral, keep: Float32Array.of(NaN, ...spectral.keep.subarray(1)) },
      /op\.keep contains NaN/,
    )
    expectFailure(
      { ...spectral, merge: 'l2' as never },
      /op\.merge is "l2"; it must be one of norm, feature-norm, average, sum/,
    )
    expectFailure({ ...spectral, phi: 'relu' as never }, /op\.phi is "relu"/)
    expectFailure({ ...spectral, phiMode: undefined as never }, /op\.phiMode is undefined/)
  })

  it('names the householder field that is wrong', () => {
    expectFailure({ ...householder, probe: randomVector(5, 2) }, /op\.probe has 5 values; the site needs 6/)
    expectFailure(
      { ...householder, probe: new Float32Array(width) },
      /op\.probe has squared norm 0; it must be between 1e-30 and 1e30/,
    )
    expectFailure(
      { ...householder, angleWidths: [5, 3, 1] },
      /op\.angleWidths\[0\] is 5; the angle network reads the site's width 6/,
    )
    expectFailure(
      { ...householder, angleWidths: [width, 3, 2] },
      /op\.angleWidths\[2\] is 2; the angle network ends in one number/,
    )
    expectFailure({ ...householder, angleWidths: [width] }, /op\.angleWidths must list at least two/)
    expectFailure({ ...householder, angleBiases: [randomVector(3, 5)] }, /op\.angleBiases must hold 2 arrays/)
    expectFailure(
      { ...householder, angleWeights: [randomVector(3 * width, 3), randomVector(4, 4)] },
      /op\.angleWeights\[1\] has 4 values; angleWidths \[3 → 1\] needs 3/,
    )
    expectFailure(
      { ...householder, angleBiases: [randomVector(3, 5), Float32Array.of(Infinity)] },
      /op\.angleBiases\[1\] contains NaN or infinite values/,
    )
  })
})
