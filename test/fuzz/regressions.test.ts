import { describe, expect, it } from 'vitest'

import { decodeEditFile, encodeEditFile } from '../../src/main/core/edits/edit-file.ts'
import { describeValue, isTillerError } from '../../src/main/core/errors.ts'
import type { Edit } from '../../src/shared/edit.ts'
import { testFingerprint } from '../helpers/fingerprint.ts'
import { concat } from './mutator.ts'

/**
 * Crash classes the fuzz suite found, each pinned by its smallest input. Before the fix each threw a raw error
 * (not a TillerError) out of the reader.
 */

function packSafetensors(header: string, body: Uint8Array): Uint8Array {
  const headerBytes = new TextEncoder().encode(header)
  const prefix = new Uint8Array(8)
  new DataView(prefix.buffer).setBigUint64(0, BigInt(headerBytes.length), true)
  return concat([prefix, headerBytes, body])
}

const edit: Edit = {
  version: 1,
  id: 'regression',
  method: 'caa',
  options: {},
  model: testFingerprint(2, 4),
  interventions: [
    {
      layer: 0,
      site: 'resid_post',
      positions: { kind: 'all' },
      op: { kind: 'add', vector: Float32Array.of(1, 2, 3, 4) },
    },
  ],
  created: '2026-01-02T03:04:05.000Z',
  notes: '',
}

describe('fuzz regressions', () => {
  it('a tensor dtype nested 20000 arrays deep is refused, not a stack overflow (edit-file, seed 1 case 251)', () => {
    const valid = concat(encodeEditFile(edit))
    const length = Number(new DataView(valid.buffer, valid.byteOffset, 8).getBigUint64(0, true))
    const header = JSON.parse(new TextDecoder().decode(valid.subarray(8, 8 + length))) as Record<
      string,
      Record<string, unknown>
    >
    const tensor = Object.keys(header).find((name) => name !== '__metadata__') as string
    const text = JSON.stringify({ ...header, [tensor]: { ...header[tensor], dtype: 'DEEP' } }).replace(
      '"DEEP"',
      `${'['.repeat(20000)}"F32"${']'.repeat(20000)}`,
    )
    let caught: unknown
    try {
      decodeEditFile(packSafetensors(text, valid.subarray(8 + length)), 'deep.safetensors')
    } catch (error) {
      caught = error
    }
    expect(isTillerError(caught, 'unsupported-tensor-type'), String(caught).slice(0, 200)).toBe(true)
    expect((caught as Error).message).toBe(
      `deep.safetensors: tensor ${tensor} has dtype an array of 1; Tiller edit files hold F32 tensors only.`,
    )
  })

  it('describeValue never recurses into arrays or objects and cuts long strings', () => {
    let deep: unknown = 1
    for (let level = 0; level < 100_000; level++) deep = [deep]
    expect(describeValue(deep)).toBe('an array of 1')
    expect(describeValue({ a: 1 })).toBe('an object')
    expect(describeValue('F16')).toBe('F16')
    expect(describeValue('')).toBe('an empty string')
    expect(describeValue(2 ** 53)).toBe('9007199254740992')
    expect(describeValue(null)).toBe('null')
    expect(describeValue(undefined)).toBe('missing')
    expect(describeValue('x'.repeat(100))).toBe(`${'x'.repeat(57)}...`)
  })
})
