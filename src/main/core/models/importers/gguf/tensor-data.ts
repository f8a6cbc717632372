import type { FileHandle } from 'node:fs/promises'

import { GGMLQuantizationType } from '@huggingface/gguf'

import { TillerError } from '../../../errors.ts'
import { ggmlTypeName } from '../../../gguf/ggml-types.ts'
import type { WeightTensor } from '../../checkpoint.ts'
import { blockDequantizer, dequantizeBfloat16 } from './dequantize.ts'
import { assertReadableTensor } from './gguf-file.ts'
import type { GgufFile, GgufTensorEntry } from './gguf-file.ts'

// fs reads are limited to 2 GiB per call.
const maximumReadBytes = 1 << 30

/** Reads `length` bytes at `offset` into a fresh (so 4-byte aligned) buffer. */
async function readBytes(handle: FileHandle, offset: number, length: number): Promise<Uint8Array> {
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
 * reads (ggml-types.ts) are dequantized to float32. Other types throw TillerError('unsupported-tensor-type')
 * naming the tensor and its type.
 */
export async function readGgufTensor(
  file: GgufFile,
  handle: FileHandle,
  tensor: GgufTensorEntry,
): Promise<WeightTensor> {
  assertReadableTensor(file, tensor)
  const bytes = await readBytes(handle, tensor.offset, tensor.byteLength)
  const elementCount = tensor.shape.reduce((product, size) => product * size, 1)
  const shape = [...tensor.shape]
  switch (tensor.type) {
    case GGMLQuantizationType.F32:
      // Typed arrays are little-endian on every platform Tiller runs on, as GGUF is.
      return { dtype: 'float32', shape, data: new Float32Array(bytes.buffer) }
    case GGMLQuantizationType.F16:
      return { dtype: 'float16', shape, data: new Uint16Array(bytes.buffer) }
    case GGMLQuantizationType.BF16:
      return { dtype: 'float32', shape, data: dequantizeBfloat16(new Uint16Array(bytes.buffer)) }
  }
  const dequantize = blockDequantizer(tensor.type)
  if (dequantize === undefined) {
    throw new TillerError(
      'internal',
      `${file.path}: no reader for tensor "${tensor.name}" of type ${ggmlTypeName(tensor.type)}.`,
    )
  }
  return { dtype: 'float32', shape, data: dequantize(bytes, elementCount) }
}
