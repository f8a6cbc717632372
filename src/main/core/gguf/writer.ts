import { randomBytes } from 'node:crypto'
import { open, rename, rm } from 'node:fs/promises'
import { basename, dirname, join } from 'node:path'

import { GGMLQuantizationType, GGUFValueType, serializeGgufMetadata } from '@huggingface/gguf'
import type { GGUFTypedMetadata, MetadataValue } from '@huggingface/gguf'

import { TillerError } from '../errors.ts'
import { float32ArrayToFloat16Bits } from './float16.ts'
import { ggmlTensorByteLength, ggmlTypeName, supportedGgmlTypeNames } from './ggml-types.ts'

/**
 * A small GGUF v3 writer: header, typed KV metadata (all value types, including arrays of scalars or strings),
 * tensor infos and aligned tensor data. Used for llama.cpp control vectors and for test models.
 *
 * The header and KV section are serialized by `@huggingface/gguf`; this file adds what that library does not
 * write: validation, tensor infos, padding and the tensor data, written atomically.
 */

/** One metadata value with its GGUF type. Arrays give their element type in `elementType`. */
export type GgufMetadataValue =
  | {
      type: 'uint8' | 'int8' | 'uint16' | 'int16' | 'uint32' | 'int32' | 'float32' | 'float64'
      value: number
    }
  | { type: 'uint64' | 'int64'; value: bigint }
  | { type: 'bool'; value: boolean }
  | { type: 'string'; value: string }
  | { type: 'array'; elementType: GgufScalarTypeName; value: readonly (number | bigint | boolean | string)[] }

/** The scalar (non-array) GGUF value type names. */
export type GgufScalarTypeName = Exclude<GgufMetadataValue['type'], 'array'>

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

const valueTypes: Record<GgufScalarTypeName | 'array', GGUFValueType> = {
  uint8: GGUFValueType.UINT8,
  int8: GGUFValueType.INT8,
  uint16: GGUFValueType.UINT16,
  int16: GGUFValueType.INT16,
  uint32: GGUFValueType.UINT32,
  int32: GGUFValueType.INT32,
  float32: GGUFValueType.FLOAT32,
  float64: GGUFValueType.FLOAT64,
  uint64: GGUFValueType.UINT64,
  int64: GGUFValueType.INT64,
  bool: GGUFValueType.BOOL,
  string: GGUFValueType.STRING,
  array: GGUFValueType.ARRAY,
}

const integerRanges: Partial<Record<GgufScalarTypeName, readonly [number, number]>> = {
  uint8: [0, 0xff],
  int8: [-0x80, 0x7f],
  uint16: [0, 0xffff],
  int16: [-0x8000, 0x7fff],
  uint32: [0, 0xffffffff],
  int32: [-0x80000000, 0x7fffffff],
}

const bigintRanges: Partial<Record<GgufScalarTypeName, readonly [bigint, bigint]>> = {
  uint64: [0n, 0xffffffffffffffffn],
  int64: [-0x8000000000000000n, 0x7fffffffffffffffn],
}

function invalid(message: string, subject: string): TillerError {
  return new TillerError('invalid-argument', message, { subject })
}

function checkScalar(key: string, type: GgufScalarTypeName, value: unknown): void {
  const integerRange = integerRanges[type]
  const bigintRange = bigintRanges[type]
  const fits =
    integerRange !== undefined
      ? typeof value === 'number' &&
        Number.isInteger(value) &&
        value >= integerRange[0] &&
        value <= integerRange[1]
      : bigintRange !== undefined
        ? typeof value === 'bigint' && value >= bigintRange[0] && value <= bigintRange[1]
        : type === 'bool'
          ? typeof value === 'boolean'
          : type === 'string'
            ? typeof value === 'string'
            : typeof value === 'number'
  if (!fits) {
    throw invalid(`GGUF metadata "${key}": ${String(value)} is not a valid ${type} value.`, key)
  }
}

function typedMetadataEntry(
  key: string,
  entry: GgufMetadataValue,
): { value: MetadataValue; type: GGUFValueType; subType?: GGUFValueType } {
  if (entry.type !== 'array') {
    checkScalar(key, entry.type, entry.value)
    return { value: entry.value, type: valueTypes[entry.type] }
  }
  for (const element of entry.value) checkScalar(key, entry.elementType, element)
  return { value: [...entry.value], type: GGUFValueType.ARRAY, subType: valueTypes[entry.elementType] }
}

function checkKey(key: string): void {
  // The GGUF spec asks for ASCII keys of at most 65535 bytes.
  if (key.length === 0 || key.length > 65535 || !/^[\x20-\x7e]+$/.test(key)) {
    throw invalid(`GGUF metadata key "${key}" must be 1-65535 printable ASCII characters.`, key)
  }
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
        `(supported: ${supportedGgmlTypeNames.join(', ')}; quantized rows must be whole blocks of 32).`,
      name,
    )
  }
  let data = tensor.data
  if (type === GGMLQuantizationType.F16 && data instanceof Float32Array)
    data = float32ArrayToFloat16Bits(data)
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
  const typedMetadata: GGUFTypedMetadata = {
    version: { value: 3, type: GGUFValueType.UINT32 },
    tensor_count: { value: BigInt(content.tensors.length), type: GGUFValueType.UINT64 },
    kv_count: { value: BigInt(metadata.length), type: GGUFValueType.UINT64 },
  }
  const typedEntries = typedMetadata as Record<string, unknown>
  for (const [key, entry] of metadata) {
    checkKey(key)
    if (key in typedEntries) throw invalid(`GGUF metadata key "${key}" appears twice.`, key)
    typedEntries[key] = typedMetadataEntry(key, entry)
  }
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
  // Alignment 1 asks the library for the header and KV section without its own trailing padding.
  const header = serializeGgufMetadata(typedMetadata, { alignment: 1 })
  const infos = tensorInfoBytes(content.tensors, offsets)
  const chunks: Uint8Array[] = [
    header,
    infos,
    new Uint8Array(padding(header.length + infos.length, alignment)),
  ]
  for (const data of datas) chunks.push(data, new Uint8Array(padding(data.length, alignment)))
  return chunks
}

/**
 * Writes a GGUF v3 file atomically: to a temporary file in the same folder, flushed, then renamed over `path`.
 * Nothing is left at `path` (or beside it) when serialization or writing fails.
 */
export async function writeGgufFile(path: string, content: GgufContent): Promise<void> {
  const chunks = serializeGguf(content)
  const temporaryPath = join(dirname(path), `.${basename(path)}.${randomBytes(6).toString('hex')}.partial`)
  try {
    const handle = await open(temporaryPath, 'w')
    try {
      for (const chunk of chunks) {
        let written = 0
        while (written < chunk.length) written += (await handle.write(chunk, written)).bytesWritten
      }
      await handle.sync()
    } finally {
      await handle.close()
    }
    await rename(temporaryPath, path)
  } catch (error) {
    await rm(temporaryPath, { force: true })
    throw error
  }
}
