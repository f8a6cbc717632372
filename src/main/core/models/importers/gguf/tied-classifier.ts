import type { FileHandle } from 'node:fs/promises'

import { GGMLQuantizationType } from '@huggingface/gguf'

import { ggmlTensorByteLength } from '../../../gguf/ggml-types.ts'
import { blockDequantizer, dequantizeBfloat16 } from './dequantize.ts'
import type { GgufTensorEntry } from './gguf-file.ts'
import { readBytes } from './tensor-data.ts'

// Rows compared at a time: enough to amortize the reads, few enough to stay far below one tensor's size.
const elementsPerChunk = 1 << 22

/** The values of rows `[first, first + count)` of a readable tensor as readGgufTensor gives them (F16 as bits). */
async function rowValues(
  handle: FileHandle,
  tensor: GgufTensorEntry,
  first: number,
  count: number,
): Promise<Float32Array | Uint16Array> {
  const columns = tensor.shape[tensor.shape.length - 1] ?? 1
  const rowBytes = ggmlTensorByteLength(tensor.type, columns, 1) ?? 0
  const bytes = await readBytes(handle, tensor.offset + first * rowBytes, count * rowBytes)
  if (tensor.type === GGMLQuantizationType.F32) return new Float32Array(bytes.buffer)
  if (tensor.type === GGMLQuantizationType.F16) return new Uint16Array(bytes.buffer)
  if (tensor.type === GGMLQuantizationType.BF16) return dequantizeBfloat16(new Uint16Array(bytes.buffer))
  const dequantize = blockDequantizer(tensor.type)
  return dequantize === undefined ? new Float32Array(0) : dequantize(bytes, count * columns)
}

/**
 * Whether two readable tensors (the embedding and output.weight) hold the same values bit for bit, as read
 * (same element type: F16 stays float16, the rest become float32), compared a few rows at a time so that a
 * tied classifier costs no second copy of the largest tensor. Equal raw bytes of one type are equal values;
 * otherwise the rows are decoded and compared with Object.is.
 */
export async function sameTensorValues(
  handle: FileHandle,
  first: GgufTensorEntry,
  second: GgufTensorEntry,
): Promise<boolean> {
  const isHalf = (tensor: GgufTensorEntry): boolean => tensor.type === GGMLQuantizationType.F16
  if (isHalf(first) !== isHalf(second)) return false
  if (first.shape.join(',') !== second.shape.join(',')) return false
  const columns = first.shape[first.shape.length - 1] ?? 1
  const rows = first.shape.slice(0, -1).reduce((product, size) => product * size, 1)
  const rowsPerChunk = Math.max(1, Math.floor(elementsPerChunk / columns))
  for (let row = 0; row < rows; row += rowsPerChunk) {
    const count = Math.min(rowsPerChunk, rows - row)
    if (first.type === second.type) {
      const rowBytes = ggmlTensorByteLength(first.type, columns, 1) ?? 0
      const [left, right] = await Promise.all(
        [first, second].map((tensor) => readBytes(handle, tensor.offset + row * rowBytes, count * rowBytes)),
      )
      if (Buffer.compare(left as Uint8Array, right as Uint8Array) === 0) continue
    }
    const left = await rowValues(handle, first, row, count)
    const right = await rowValues(handle, second, row, count)
    if (left.length !== right.length) return false
    for (let index = 0; index < left.length; index++) {
      if (!Object.is(left[index], right[index])) return false
    }
  }
  return true
}
