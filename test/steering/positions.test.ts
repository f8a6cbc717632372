import { describe, expect, it } from 'vitest'
import type { PositionPolicy } from '../../src/shared/edit.ts'
import { policyMask, tokenIndices } from '../../src/main/core/edits/positions.ts'

// Row 0: 4 prompt tokens, no padding. Row 1: 2 prompt tokens, left padded by 2.
const prefill = { batch: 2, sequence: 4, pastLength: 0, leftPadding: [0, 2], promptLengths: [4, 2] }
// Third decode step: each row's third generated token sits at padded index 6.
const decode = { ...prefill, sequence: 1, pastLength: 6 }

function rows(mask: Float32Array, width: number): number[][] {
  return Array.from({ length: mask.length / width }, (_, row) =>
    Array.from(mask.subarray(row * width, (row + 1) * width)),
  )
}

describe('position policies → per-step masks', () => {
  const cases: Array<[PositionPolicy, number[][], number[][]]> = [
    [
      { kind: 'all' },
      [
        [1, 1, 1, 1],
        [0, 0, 1, 1],
      ],
      [[1], [1]],
    ],
    [
      { kind: 'prompt' },
      [
        [1, 1, 1, 1],
        [0, 0, 1, 1],
      ],
      [[0], [0]],
    ],
    [
      { kind: 'generated' },
      [
        [0, 0, 0, 0],
        [0, 0, 0, 0],
      ],
      [[1], [1]],
    ],
    [
      { kind: 'promptPrefix', count: 3 },
      [
        [1, 1, 1, 0],
        [0, 0, 1, 1],
      ],
      [[0], [0]],
    ],
    [
      { kind: 'lastPromptToken' },
      [
        [0, 0, 0, 1],
        [0, 0, 0, 1],
      ],
      [[0], [0]],
    ],
    [
      { kind: 'fromAssistantStart' },
      [
        [0, 0, 0, 1],
        [0, 0, 0, 1],
      ],
      [[1], [1]],
    ],
  ]
  for (const [policy, atPrefill, atDecode] of cases) {
    it(`${policy.kind}: prefill and decode masks; padding is never edited`, () => {
      expect(rows(policyMask(policy, prefill), 4)).toEqual(atPrefill)
      expect(rows(policyMask(policy, decode), 1)).toEqual(atDecode)
    })
  }

  it('fromAssistantStart uses the given assistant start per row', () => {
    const mask = policyMask({ kind: 'fromAssistantStart' }, prefill, { assistantStarts: [2, 0] })
    expect(rows(mask, 4)).toEqual([
      [0, 0, 1, 1],
      [0, 0, 1, 1],
    ])
  })

  it('token indices count real tokens from 0 (padding reads index 0 under a zero mask)', () => {
    expect(Array.from(tokenIndices(prefill), Number)).toEqual([0, 1, 2, 3, 0, 0, 0, 1])
    expect(Array.from(tokenIndices(decode), Number)).toEqual([6, 4])
  })

  it('rejects a step context without padding or prompt lengths for a row', () => {
    expect(() => policyMask({ kind: 'all' }, { ...prefill, promptLengths: [4] })).toThrow(
      /promptLengths\[1\]/,
    )
  })
})
