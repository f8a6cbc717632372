import { GGMLQuantizationType } from '@huggingface/gguf'

import { TillerError } from '../errors.ts'
import { floatsToHalves } from '../../../shared/float16.ts'
import { writeFileAtomic } from '../workspace/atomic-write.ts'
import { ggmlTensorByteLength, ggmlTypeName, supportedGgmlTypeNames } from './ggml-types.ts'
import { encodeGgufHeader } from './metadata-encoding.ts'
import type { GgufMetadataValue } from './metadata-encoding.ts'

export type { GgufMetadataValue, GgufScalarTypeName } from './metadata-encoding.ts'

/**
 * A small GGUF v3 writer: header, typed KV metadata (all value types, including arrays of scalars or strings),
 * tensor infos and aligned tensor data. Used for llama.cpp control vectors and for test models.
 *
 * `@huggingface/gguf` reads GGUF but writes only (part of) the KV section, so the container is written here.
 */

/**
 * One tensor to write. `shape` is row-major (outermost first, like NumPy); the file stores it reversed
 * (ne0 first). `data` holds the elements: Float32Array for F32 (or for F16, converted here), Uint16Array bit
 * patterns for F16/BF16, raw block bytes (Uint8Array) for quantized types.
 */
export interface GgufTensorInput {
  name: string
  type: GGMLQuantizationType
  shape: readonly number[]
  data: Float32Array | Uint16Array | Uint8Array
}

/** Everything one GGUF file holds. Metadata keys are written in the given order. */
export interface GgufContent {
  metadata: ReadonlyArray<readonly [string, GgufMetadataValue]>
  tensors: readonly GgufTensorInput[]
  /** Tensor data alignment in bytes (a multiple of 8). 32, the GGUF default, unless given; other values are also written as `general.alignment`. */
  alignment?: number
}

const defaultAlignment = 32
const maximumTensorNameBytes = 63

function invalid(message: string, subject: string): TillerError {
  return new TillerError('invalid-argument', message, { subject })
}

/** The data of a tensor as the bytes to store, after checking its type and length against its shape. */
function tensorBytes(tensor: GgufTensorInput): Uint8Array {
  const { name, type, shape } = tensor
  if (shape.length < 1 || shape.length > 4 || shape.some((size) => !Number.isInteger(size) || size < 1)) {
    throw invalid(
      `GGUF tensor "${name}": shape [${shape.join(', ')}] must have 1-4 positive dimensions.`,
      name,
    )
  }
  const elementsPerRow = shape[shape.length - 1] ?? 1
  const rowCount = shape.slice(0, -1).reduce((product, size) => product * size, 1)
  const byteLength = ggmlTensorByteLength(type, elementsPerRow, rowCount)
  if (byteLength === undefined) {
    throw invalid(
      `GGUF tensor "${name}": type ${ggmlTypeName(type)} with ${elementsPerRow} elements per row cannot be written ` +
        `(supported: ${supportedGgmlTypeNames.join(', ')}; quantized rows must be whole blocks: 32 elements, or 256 for K-quants and IQ4_XS).`,
      name,
    )
  }
  let data = tensor.data
  if (type === GGMLQuantizationType.F16 && data instanceof Float32Array) data = floatsToHalves(data)
  const expectedClass =
    type === GGMLQuantizationType.F32
      ? Float32Array
      : type === GGMLQuantizationType.F16 || type === GGMLQuantizationType.BF16
        ? Uint16Array
        : Uint8Array
  if (!(data instanceof expectedClass) || data.byteLength !== byteLength) {
    throw invalid(
      `GGUF tensor "${name}": ${ggmlTypeName(type)} [${shape.join(', ')}] needs a ${expectedClass.name} of ` +
        `${byteLength} bytes, got a ${data.constructor.name} of ${data.byteLength} bytes.`,
      name,
    )
  }
  // Typed arrays hold little-endian values on every platform Tiller runs on, the byte order GGUF uses.
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength)
}

function padding(length: number, alignment: number): number {
  return (alignment - (length % alignment)) % alignment
}

/** Serialized tensor infos: name, n_dims, dims (ne0 first), type, offset into the data section. */
function tensorInfoBytes(tensors: readonly GgufTensorInput[], offsets: readonly number[]): Uint8Array {
  const encoder = new TextEncoder()
  const names = tensors.map((tensor) => encoder.encode(tensor.name))
  const total = tensors.reduce(
    (sum, tensor, index) => sum + 8 + (names[index]?.length ?? 0) + 4 + 8 * tensor.shape.length + 4 + 8,
    0,
  )
  const bytes = new Uint8Array(total)
  const view = new DataView(bytes.buffer)
  let position = 0
  tensors.forEach((tensor, index) => {
    const name = names[index] ?? new Uint8Array()
    view.setBigUint64(position, BigInt(name.length), true)
    bytes.set(name, position + 8)
    position += 8 + name.length
    view.setUint32(position, tensor.shape.length, true)
    position += 4
    for (const size of [...tensor.shape].reverse()) {
      view.setBigUint64(position, BigInt(size), true)
      position += 8
    }
    view.setUint32(position, tensor.type, true)
    view.setBigUint64(position + 4, BigInt(offsets[index] ?? 0), true)
    position += 12
  })
  return bytes
}

/** Resolves the alignment and the metadata to write, adding `general.alignment` when it is not the default. */
function resolveAlignment(content: GgufContent): {
  alignment: number
  metadata: ReadonlyArray<readonly [string, GgufMetadataValue]>
} {
  const declared = content.metadata.find(([key]) => key === 'general.alignment')?.[1]
  const declaredValue = declared === undefined ? undefined : declared.value
  if (declared !== undefined && declared.type !== 'uint32') {
    throw invalid('GGUF metadata "general.alignment" must be a uint32.', 'general.alignment')
  }
  const alignment =
    content.alignment ?? (typeof declaredValue === 'number' ? declaredValue : defaultAlignment)
  if (!Number.isInteger(alignment) || alignment < 8 || alignment % 8 !== 0) {
    throw invalid(`GGUF alignment ${alignment} must be a positive multiple of 8.`, 'general.alignment')
  }
  if (declaredValue !== undefined && declaredValue !== alignment) {
    throw invalid(
      `GGUF alignment ${alignment} disagrees with metadata "general.alignment" = ${String(declaredValue)}.`,
      'general.alignment',
    )
  }
  const metadata =
    declared === undefined && alignment !== defaultAlignment
      ? [...content.metadata, ['general.alignment', { type: 'uint32', value: alignment }] as const]
      : content.metadata
  return { alignment, metadata }
}

/**
 * Serializes a GGUF v3 file into byte chunks (header + KV + tensor infos + padding, then each tensor's data and
 * padding). Throws TillerError('invalid-argument') naming the key or tensor when something cannot be written.
 */
export function serializeGguf(content: GgufContent): Uint8Array[] {
  const { alignment, metadata } = resolveAlignment(content)
  const names = new Set<string>()
  for (const { name } of content.tensors) {
    const length = new TextEncoder().encode(name).length
    if (length === 0 || length > maximumTensorNameBytes) {
      throw invalid(`GGUF tensor name "${name}" must be 1-${maximumTensorNameBytes} bytes long.`, name)
    }
    if (names.has(name)) throw invalid(`GGUF tensor name "${name}" appears twice.`, name)
    names.add(name)
  }
  const datas = content.tensors.map(tensorBytes)
  const offsets: number[] = []
  let dataLength = 0
  for (const data of datas) {
    offsets.push(dataLength)
    dataLength += data.length + padding(data.length, alignment)
  }
  const header = encodeGgufHeader(content.tensors.length, metadata)
  const infos = tensorInfoBytes(content.tensors, offsets)
  const headerLength = header.reduce((sum, chunk) => sum + chunk.length, 0) + infos.length
  const chunks: Uint8Array[] = [...header, infos, new Uint8Array(padding(headerLength, alignment))]
  for (const data of datas) chunks.push(data, new Uint8Array(padding(data.length, alignment)))
  return chunks
}

/**
 * Writes a GGUF v3 file atomically: to a temporary file in the same folder, flushed, then renamed over `path`.
 * Nothing is left at `path` (or beside it) when serialization or writing fails.
 */
export async function writeGgufFile(path: string, content: GgufContent): Promise<void> {
  await writeFileAtomic(path, serializeGguf(content))
}
