import { describe, expect, it } from 'vitest'

import {
  halfSplitToInterleavedRows,
  interleavedToHalfSplitRows,
} from '../../src/main/core/models/importers/rope-permutation.ts'

/** Deterministic pseudo-random values in [-1, 1). */
function randomValues(length: number, seed: number): Float32Array {
  let state = seed
  return Float32Array.from({ length }, () => {
    state = (state * 1103515245 + 12345) % 2 ** 31
    return state / 2 ** 30 - 1
  })
}

/** `[rows, columns]` x `[columns]` -> `[rows]`. */
function project(matrix: Float32Array, vector: Float32Array): Float32Array {
  const rows = matrix.length / vector.length
  return Float32Array.from({ length: rows }, (_, row) =>
    vector.reduce((sum, value, column) => sum + (matrix[row * vector.length + column] ?? 0) * value, 0),
  )
}

/** Rotates pairs (i, i + headDim/2) of each head in place: Hugging Face's rotate_half rope. */
function applyRotateHalfRope(vector: Float32Array, headDim: number, position: number, theta: number): void {
  const half = headDim / 2
  for (let start = 0; start < vector.length; start += headDim) {
    for (let index = 0; index < half; index++) {
      const angle = position * theta ** ((-2 * index) / headDim)
      const first = vector[start + index] ?? 0
      const second = vector[start + index + half] ?? 0
      vector[start + index] = first * Math.cos(angle) - second * Math.sin(angle)
      vector[start + index + half] = second * Math.cos(angle) + first * Math.sin(angle)
    }
  }
}

/** Rotates adjacent pairs (2i, 2i + 1) of each head in place: llama.cpp's "normal" rope, run.c's rope. */
function applyInterleavedRope(vector: Float32Array, headDim: number, position: number, theta: number): void {
  for (let start = 0; start < vector.length; start += headDim) {
    for (let index = 0; index < headDim / 2; index++) {
      const angle = position * theta ** ((-2 * index) / headDim)
      const first = vector[start + 2 * index] ?? 0
      const second = vector[start + 2 * index + 1] ?? 0
      vector[start + 2 * index] = first * Math.cos(angle) - second * Math.sin(angle)
      vector[start + 2 * index + 1] = second * Math.cos(angle) + first * Math.sin(angle)
    }
  }
}

/** Per-head attention logits q_h(i) . k_h(j) for positions i, j: `[heads][positions][positions]`. */
function attentionScores(
  queryWeight: Float32Array,
  keyWeight: Float32Array,
  inputs: Float32Array[],
  headDim: number,
  rope: (vector: Float32Array, headDim: number, position: number, theta: number) => void,
): number[][][] {
  const queries = inputs.map((input, position) => {
    const query = project(queryWeight, input)
    rope(query, headDim, position, 10000)
    return query
  })
  const keys = inputs.map((input, position) => {
    const key = project(keyWeight, input)
    rope(key, headDim, position, 10000)
    return key
  })
  const heads = (queries[0]?.length ?? 0) / headDim
  return Array.from({ length: heads }, (_, head) =>
    queries.map((query) =>
      keys.map((key) => {
        let dot = 0
        for (let index = 0; index < headDim; index++) {
          dot += (query[head * headDim + index] ?? 0) * (key[head * headDim + index] ?? 0)
        }
        return dot
      }),
    ),
  )
}

describe('RoPE row permutation between interleaved and rotate_half layouts', () => {
  it('orders the rows of each head [0, 2, 4, ..., 1, 3, 5, ...]', () => {
    // Two heads of four rows, one column: row r holds r.
    const interleaved = Float32Array.from([0, 1, 2, 3, 4, 5, 6, 7])
    expect(Array.from(interleavedToHalfSplitRows(interleaved, 2, 4))).toEqual([0, 2, 1, 3, 4, 6, 5, 7])
    expect(Array.from(halfSplitToInterleavedRows(Float32Array.from([0, 2, 1, 3, 4, 6, 5, 7]), 2, 4))).toEqual(
      [0, 1, 2, 3, 4, 5, 6, 7],
    )
  })

  it('moves whole rows and keeps the array type (float16 bit patterns too)', () => {
    const rows = Uint16Array.from([10, 11, 20, 21, 30, 31, 40, 41]) // 4 rows x 2 columns, one head
    const permuted = interleavedToHalfSplitRows(rows, 1, 4)
    expect(permuted).toBeInstanceOf(Uint16Array)
    expect(Array.from(permuted)).toEqual([10, 11, 30, 31, 20, 21, 40, 41])
  })

  it('is inverted exactly by halfSplitToInterleavedRows', () => {
    const weights = randomValues(6 * 16 * 24, 7)
    const back = interleavedToHalfSplitRows(halfSplitToInterleavedRows(weights, 6, 16), 6, 16)
    expect(back).toEqual(weights)
  })

  it('gives identical attention scores: rotate_half on un-permuted rows == adjacent-pair rope on GGUF rows', () => {
    const headDim = 8
    const heads = 3
    const width = 12
    const interleavedQuery = randomValues(heads * headDim * width, 1)
    const interleavedKey = randomValues(heads * headDim * width, 2)
    const inputs = Array.from({ length: 5 }, (_, position) => randomValues(width, 100 + position))
    const reference = attentionScores(interleavedQuery, interleavedKey, inputs, headDim, applyInterleavedRope)
    const converted = attentionScores(
      interleavedToHalfSplitRows(interleavedQuery, heads, headDim),
      interleavedToHalfSplitRows(interleavedKey, heads, headDim),
      inputs,
      headDim,
      applyRotateHalfRope,
    )
    const worst = reference
      .flat(2)
      .reduce(
        (maximum, value, index) => Math.max(maximum, Math.abs(value - (converted.flat(2)[index] ?? NaN))),
        0,
      )
    expect(worst).toBeLessThan(1e-5)
    // Without the permutation the two conventions disagree, so the check above has teeth.
    const unpermuted = attentionScores(interleavedQuery, interleavedKey, inputs, headDim, applyRotateHalfRope)
    const gap = reference
      .flat(2)
      .reduce(
        (maximum, value, index) => Math.max(maximum, Math.abs(value - (unpermuted.flat(2)[index] ?? NaN))),
        0,
      )
    expect(gap).toBeGreaterThan(1e-2)
  })
})
