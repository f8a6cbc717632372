/**
 * Row permutations of q_proj / k_proj weights between the two RoPE conventions.
 *
 * Interleaved (Meta, llama2.c, GGUF llama): within a head, rows 2i and 2i+1 form rotation pair i.
 * Half-split (Hugging Face rotate_half, Tiller's checkpoints): rows i and i + headDim/2 form pair i.
 * So half-split row r of a head is interleaved row 2r (r < headDim/2) or 2(r - headDim/2) + 1, i.e. the rows of
 * each head are taken in the order [0, 2, 4, ..., 1, 3, 5, ...]. Llama.cpp's converter applies the inverse to
 * Hugging Face weights, and Hugging Face's Meta converter applies this one.
 */

type RowData = Float32Array | Uint16Array | Uint8Array

/** The source row, within one head, of each half-split row: [0, 2, 4, ..., 1, 3, 5, ...]. */
function halfSplitSourceRows(headDim: number): number[] {
  const half = headDim / 2
  return Array.from({ length: headDim }, (_, row) => (row < half ? 2 * row : 2 * (row - half) + 1))
}

function permuteRows<T extends RowData>(data: T, heads: number, headDim: number, sourceRows: number[]): T {
  if (headDim % 2 !== 0 || data.length % (heads * headDim) !== 0) {
    throw new RangeError(`cannot permute ${data.length} values as ${heads} heads of ${headDim} rows`)
  }
  const columns = data.length / (heads * headDim)
  const result = new (data.constructor as new (length: number) => T)(data.length)
  for (let head = 0; head < heads; head++) {
    for (let row = 0; row < headDim; row++) {
      const target = (head * headDim + row) * columns
      const source = (head * headDim + (sourceRows[row] ?? 0)) * columns
      result.set(data.subarray(source, source + columns), target)
    }
  }
  return result
}

/**
 * Interleaved-pair rows -> rotate_half rows, per head.
 * `[heads * headDim, columns]` -> `[heads * headDim, columns]` (a new array of the same type).
 */
export function interleavedToHalfSplitRows<T extends RowData>(data: T, heads: number, headDim: number): T {
  return permuteRows(data, heads, headDim, halfSplitSourceRows(headDim))
}

/**
 * rotate_half rows -> interleaved-pair rows, per head (the inverse of interleavedToHalfSplitRows).
 * `[heads * headDim, columns]` -> `[heads * headDim, columns]`.
 */
export function halfSplitToInterleavedRows<T extends RowData>(data: T, heads: number, headDim: number): T {
  const sourceRows = new Array<number>(headDim)
  halfSplitSourceRows(headDim).forEach(
    (interleavedRow, halfSplitRow) => (sourceRows[interleavedRow] = halfSplitRow),
  )
  return permuteRows(data, heads, headDim, sourceRows)
}
