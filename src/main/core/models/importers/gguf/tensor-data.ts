import type { FileHandle } from 'node:fs/promises'

import { GGMLQuantizationType } from '@huggingface/gguf'

import { TillerError } from '../../../errors.ts'
import { ggmlTensorByteLength, ggmlTypeName } from '../../../gguf/ggml-types.ts'
import { withLazyValues, type WeightTensor } from '../../checkpoint.ts'
import {
  decodeQuantizedGroups,
  blockScalesAreFinite,
  groupsAreFinite,
  hasLegacyGroups,
  hasQuantizedGroups,
  legacyGroupValues,
  type QuantizedGroups,
} from './block-decode.ts'
import { blockDequantizer, dequantizeBfloat16 } from './dequantize.ts'
import { assertReadableTensor } from './gguf-file.ts'
import { sourceBitsOf } from './source-bits.ts'
import type { GgufFile, GgufTensorEntry } from './gguf-file.ts'

// fs reads are limited to 2 GiB per call.
const maximumReadBytes = 1 << 30

/** Reads `length` bytes at `offset` into a fresh (so 4-byte aligned) buffer. */
export async function readBytes(handle: FileHandle, offset: number, length: number): Promise<Uint8Array> {
  const bytes = new Uint8Array(length)
  let done = 0
  while (done < length) {
    const { bytesRead } = await handle.read(
      bytes,
      done,
      Math.min(maximumReadBytes, length - done),
      offset + done,
    )
    if (bytesRead === 0) throw new RangeError(`unexpected end of file at byte ${offset + done}`)
    done += bytesRead
  }
  return bytes
}

/**
 * Reads one tensor's data from an open GGUF file as a weight with the tensor's row-major shape.
 * F32 stays float32 and F16 stays float16 (bit patterns, lossless); BF16 and every block-quantized type Tiller
 * reads (ggml-types.ts) are dequantized to float32, with their groups of 32 as `blocks` unless `blocks: false`;
 * `sourceBits` records the type's bits per value. Other types throw TillerError('unsupported-tensor-type')
 * naming the tensor and its type.
 */
export async function readGgufTensor(
  file: GgufFile,
  handle: FileHandle,
  tensor: GgufTensorEntry,
  options: { blocks?: boolean } = {},
): Promise<WeightTensor> {
  assertReadableTensor(file, tensor)
  const bytes = await readBytes(handle, tensor.offset, tensor.byteLength)
  return decodeTensorBytes(file, tensor, bytes, [...tensor.shape], 0, options.blocks === false ? 0 : Infinity)
}

/** The bytes of one row of a matrix tensor, or undefined when its rows are not whole blocks. */
export function ggufRowBytes(tensor: GgufTensorEntry): number | undefined {
  const [rows, columns] = tensor.shape
  if (
    tensor.shape.length !== 2 ||
    rows === undefined ||
    columns === undefined ||
    tensor.byteLength === undefined
  )
    return undefined
  const rowBytes = ggmlTensorByteLength(tensor.type, columns, 1)
  return rowBytes !== undefined && rowBytes * rows === tensor.byteLength ? rowBytes : undefined
}

/**
 * Reads rows `[first, first + count)` of a matrix tensor (`[rows, columns]`, rows of whole blocks: ggufRowBytes)
 * as readGgufTensor reads the whole, a `[count, columns]` weight; its groups of 32 come along when their bits are
 * at most `blockBits`.
 */
export async function readGgufRows(
  file: GgufFile,
  handle: FileHandle,
  tensor: GgufTensorEntry,
  first: number,
  count: number,
  blockBits: number,
): Promise<WeightTensor> {
  assertReadableTensor(file, tensor)
  const rowBytes = ggufRowBytes(tensor)
  if (rowBytes === undefined)
    throw new TillerError('internal', `${file.path}: tensor "${tensor.name}" cannot be read by rows.`)
  const bytes = await readBytes(handle, tensor.offset + first * rowBytes, count * rowBytes)
  return decodeTensorBytes(file, tensor, bytes, [count, tensor.shape[1] ?? 1], first, blockBits)
}

/**
 * `bytes`, whole rows of `tensor` starting at row `firstRow`, as a weight of `shape`: see readGgufTensor. Groups
 * are decoded when the type has them and their bits are at most `blockBits`.
 */
function decodeTensorBytes(
  file: GgufFile,
  tensor: GgufTensorEntry,
  bytes: Uint8Array,
  shape: number[],
  firstRow: number,
  blockBits: number,
): WeightTensor {
  const elementCount = shape.reduce((product, size) => product * size, 1)
  let weight: WeightTensor
  // Set when the groups' scales already show every value finite, so the values need no scan.
  let knownFinite = false
  switch (tensor.type) {
    case GGMLQuantizationType.F32:
      // Typed arrays are little-endian on every platform Tiller runs on, as GGUF is.
      weight = { dtype: 'float32', shape, data: new Float32Array(bytes.buffer) }
      break
    case GGMLQuantizationType.F16:
      weight = { dtype: 'float16', shape, data: new Uint16Array(bytes.buffer) }
      break
    case GGMLQuantizationType.BF16:
      weight = { dtype: 'float32', shape, data: dequantizeBfloat16(new Uint16Array(bytes.buffer)) }
      break
    default: {
      const dequantize = blockDequantizer(tensor.type)
      if (dequantize === undefined) {
        throw new TillerError(
          'internal',
          `${file.path}: no reader for tensor "${tensor.name}" of type ${ggmlTypeName(tensor.type)}.`,
        )
      }
      const wanted = (sourceBitsOf(tensor.type) ?? Infinity) <= blockBits
      const groups = wanted ? groupsOf(tensor.type, bytes, elementCount, shape) : undefined
      if (groups === undefined) {
        weight = { dtype: 'float32', shape, data: dequantize(bytes, elementCount) }
        // Finite block scales make every value finite: no scan of the values.
        knownFinite = blockScalesAreFinite(tensor.type, bytes) === true
        break
      }
      const { groupSize, bits, zeroPoint, scales, quants, offsets } = groups
      // Legacy groups give the dequantized values directly, only when something reads them (a quantized export
      // copying the blocks does not); K-quant values come from the type's own dequantizer.
      const legacy = hasLegacyGroups(tensor.type)
      const blocks = {
        groupSize,
        bits,
        zeroPoint,
        scales,
        quants,
        ...(offsets === undefined ? {} : { offsets }),
        ...(legacy ? { determineValues: true } : {}),
      }
      weight = withLazyValues(
        { dtype: 'float32', shape, blocks },
        () => legacyGroupValues(tensor.type, groups) ?? dequantize(bytes, elementCount),
      )
      // Finite scales and offsets make every value finite.
      knownFinite = groupsAreFinite(groups)
    }
  }
  if (!knownFinite) assertFinite(file, tensor, weight, firstRow)
  const sourceBits = sourceBitsOf(tensor.type)
  if (sourceBits !== undefined) weight.sourceBits = sourceBits
  return weight
}

/**
 * The groups of 32 of a type that has them (Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q4_K, Q5_K: block-decode.ts), which a
 * quantized export writes as MatMulNBits blocks, or undefined for other types and rows that are not whole groups.
 */
function groupsOf(
  type: number,
  bytes: Uint8Array,
  elementCount: number,
  shape: readonly number[],
): QuantizedGroups | undefined {
  if (!hasQuantizedGroups(type) || shape.length !== 2 || (shape[1] ?? 0) % 32 !== 0) return undefined
  const groups = decodeQuantizedGroups(type, bytes, elementCount)
  return groups.groupSize === 32 ? groups : undefined
}

/** The index of the first NaN or infinity in a weight (float16 kept as bit patterns), or -1. */
function firstNonFinite(weight: WeightTensor): number {
  return weight.dtype === 'float16'
    ? firstNonFiniteHalf(weight.data as Uint16Array)
    : firstNonFiniteFloat(weight.data as Float32Array)
}

function firstNonFiniteHalf(data: Uint16Array): number {
  // A float16 with all exponent bits set is an infinity or a NaN.
  for (let index = 0; index < data.length; index++) {
    if (((data[index] as number) & 0x7c00) === 0x7c00) return index
  }
  return -1
}

function firstNonFiniteFloat(data: Float32Array): number {
  // x − x is 0 for every finite x and NaN for infinities and NaN: one comparison per value.
  for (let index = 0; index < data.length; index++) {
    const value = data[index] as number
    if (value - value !== 0) return index
  }
  return -1
}

/**
 * Refuses weights holding NaN or infinity, as llama.cpp's loader does (ggml_validate_row_data): in a quantized
 * tensor they come from a damaged float16 block scale, and they would turn every logit into NaN.
 */
function assertFinite(file: GgufFile, tensor: GgufTensorEntry, weight: WeightTensor, firstRow: number): void {
  const index = firstNonFinite(weight)
  if (index < 0) return
  const columns = tensor.shape[tensor.shape.length - 1] ?? 1
  throw new TillerError(
    'file-corrupt',
    `${file.path}: tensor "${tensor.name}" (${ggmlTypeName(tensor.type)}) holds a NaN or infinite value at row ` +
      `${firstRow + Math.floor(index / columns)}, column ${index % columns}. The file is damaged; download or ` +
      'convert it again.',
    { subject: `${file.path}: ${tensor.name}` },
  )
}
