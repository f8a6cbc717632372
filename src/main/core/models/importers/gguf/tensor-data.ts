import type { FileHandle } from 'node:fs/promises'

import { GGMLQuantizationType } from '@huggingface/gguf'

import { TillerError } from '../../../errors.ts'
import { ggmlTypeName } from '../../../gguf/ggml-types.ts'
import type { WeightBlocks, WeightTensor } from '../../checkpoint.ts'
import { decodeQuantizedGroups, hasQuantizedGroups } from './block-decode.ts'
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
  const elementCount = tensor.shape.reduce((product, size) => product * size, 1)
  const shape = [...tensor.shape]
  let weight: WeightTensor
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
      weight = { dtype: 'float32', shape, data: dequantize(bytes, elementCount) }
      const blocks = options.blocks === false ? undefined : blocksOf(tensor.type, bytes, elementCount, shape)
      if (blocks !== undefined) weight.blocks = blocks
    }
  }
  assertFinite(file, tensor, weight)
  const sourceBits = sourceBitsOf(tensor.type)
  if (sourceBits !== undefined) weight.sourceBits = sourceBits
  return weight
}

/**
 * The groups of 32 of a type that has them (Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q4_K, Q5_K: block-decode.ts), which a
 * quantized export writes as MatMulNBits blocks, or undefined for other types and rows that are not whole groups.
 */
function blocksOf(
  type: number,
  bytes: Uint8Array,
  elementCount: number,
  shape: readonly number[],
): WeightBlocks | undefined {
  if (!hasQuantizedGroups(type) || shape.length !== 2 || (shape[1] ?? 0) % 32 !== 0) return undefined
  const groups = decodeQuantizedGroups(type, bytes, elementCount)
  if (groups.groupSize !== 32) return undefined
  const { groupSize, bits, zeroPoint, scales, quants, offsets } = groups
  return { groupSize, bits, zeroPoint, scales, quants, ...(offsets === undefined ? {} : { offsets }) }
}

/** The index of the first NaN or infinity in a weight (float16 kept as bit patterns), or -1. */
function firstNonFinite(weight: WeightTensor): number {
  const { data } = weight
  if (weight.dtype === 'float16') {
    // A float16 with all exponent bits set is an infinity or a NaN.
    for (let index = 0; index < data.length; index++) {
      if (((data[index] as number) & 0x7c00) === 0x7c00) return index
    }
    return -1
  }
  for (let index = 0; index < data.length; index++) {
    if (!Number.isFinite(data[index])) return index
  }
  return -1
}

/**
 * Refuses weights holding NaN or infinity, as llama.cpp's loader does (ggml_validate_row_data): in a quantized
 * tensor they come from a damaged float16 block scale, and they would turn every logit into NaN.
 */
function assertFinite(file: GgufFile, tensor: GgufTensorEntry, weight: WeightTensor): void {
  const index = firstNonFinite(weight)
  if (index < 0) return
  const columns = tensor.shape[tensor.shape.length - 1] ?? 1
  throw new TillerError(
    'file-corrupt',
    `${file.path}: tensor "${tensor.name}" (${ggmlTypeName(tensor.type)}) holds a NaN or infinite value at row ` +
      `${Math.floor(index / columns)}, column ${index % columns}. The file is damaged; download or convert it again.`,
    { subject: `${file.path}: ${tensor.name}` },
  )
}
