import { open, stat } from 'node:fs/promises'

import { gguf } from '@huggingface/gguf'
import type { GGUFParseOutput, GGUFTypedMetadata, MetadataValue } from '@huggingface/gguf'

import { TillerError } from '../../../errors.ts'
import {
  ggmlTensorByteLength,
  ggmlTypeLayout,
  ggmlTypeName,
  supportedGgmlTypeNames,
} from '../../../gguf/ggml-types.ts'

/** One tensor of a GGUF file: where its bytes are and how to read them. */
export interface GgufTensorEntry {
  name: string
  /** GGML type id (0 F32, 1 F16, 8 Q8_0, ...). */
  type: number
  /** Row-major shape, outermost first (the file's ne0-first dims reversed). */
  shape: number[]
  /** Absolute byte offset of the first element in the file. */
  offset: number
  /** Bytes the tensor occupies, or undefined when its type is not one Tiller reads. */
  byteLength: number | undefined
}

/** A parsed GGUF header: metadata and tensor directory, validated against the file's size. */
export interface GgufFile {
  path: string
  fileSize: number
  version: number
  /** Metadata values by key (numbers, bigints for 64-bit integers, strings, booleans, arrays). */
  metadata: ReadonlyMap<string, MetadataValue>
  /** The GGUF value type of each metadata key, as `@huggingface/gguf` reports it. */
  typedMetadata: GGUFTypedMetadata
  tensors: ReadonlyMap<string, GgufTensorEntry>
  alignment: number
}

const magic = 'GGUF'
const bookkeepingKeys = new Set(['version', 'tensor_count', 'kv_count'])

function corrupt(path: string, detail: string, cause?: unknown): TillerError {
  return new TillerError(
    'file-corrupt',
    `${path}: ${detail} The file is damaged or not a GGUF model; download or convert it again.`,
    { subject: path, cause },
  )
}

// The smallest encodings after the 24-byte preamble: a tensor info is a name length (8 bytes), a dimension count (4),
// a type (4) and an offset (8); a metadata entry is a key length (8), a value type (4) and at least one value byte.
const minimumTensorInfoBytes = 24n
const minimumKeyValueBytes = 13n
const preambleBytes = 24

/**
 * Checks magic, byte order, version and the two counts from the first 24 bytes, before handing the file to the
 * parser: counts the file cannot hold would make the parser loop over zero padding and allocate for each.
 */
async function checkPreamble(path: string, fileSize: number): Promise<void> {
  const handle = await open(path, 'r')
  const preamble = Buffer.alloc(preambleBytes)
  try {
    await handle.read(preamble, 0, preambleBytes, 0)
  } finally {
    await handle.close()
  }
  if (preamble.toString('latin1', 0, 4) !== magic) {
    throw corrupt(path, `does not start with the GGUF magic bytes "GGUF".`)
  }
  // A v2/v3 header is at least 24 bytes: magic, version and two 64-bit counts.
  if (fileSize < 24) throw corrupt(path, `is truncated: ${fileSize} bytes cannot hold a GGUF header.`)
  const version = preamble.readUInt32LE(4)
  if (version !== 2 && version !== 3) {
    const bigEndian = (version & 0xffff) === 0
    throw new TillerError(
      'file-corrupt',
      bigEndian
        ? `${path}: is a big-endian GGUF file, which Tiller does not read. Convert it to a little-endian GGUF (the default of llama.cpp's converter).`
        : `${path}: is GGUF version ${version}; Tiller reads versions 2 and 3. Convert it again with a current llama.cpp.`,
      { subject: `${path}: version` },
    )
  }
  const room = BigInt(fileSize - preambleBytes)
  const tensorCount = preamble.readBigUInt64LE(8)
  const keyValueCount = preamble.readBigUInt64LE(16)
  if (tensorCount * minimumTensorInfoBytes > room) {
    throw corrupt(
      path,
      `tensor_count is ${tensorCount}, but its ${fileSize} bytes hold at most ${room / minimumTensorInfoBytes} tensor entries.`,
    )
  }
  if (tensorCount * minimumTensorInfoBytes + keyValueCount * minimumKeyValueBytes > room) {
    throw corrupt(
      path,
      `kv_count is ${keyValueCount}, but with ${tensorCount} tensors its ${fileSize} bytes hold at most ` +
        `${(room - tensorCount * minimumTensorInfoBytes) / minimumKeyValueBytes} metadata entries.`,
    )
  }
}

function toSafeNumber(path: string, value: bigint, field: string): number {
  if (value > BigInt(Number.MAX_SAFE_INTEGER))
    throw corrupt(path, `${field} is ${value}, which is impossible.`)
  return Number(value)
}

/** Runs the `@huggingface/gguf` parser, turning its raw errors into a TillerError that names the file. */
async function parseHeader(path: string): Promise<GGUFParseOutput & { typedMetadata: GGUFTypedMetadata }> {
  try {
    return await gguf(path, { allowLocalFile: true, typedMetadata: true })
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error)
    throw corrupt(path, `cannot be parsed (${reason}).`, error)
  }
}

/** Validates the tensor directory against the file size: every tensor of a known type must lie inside the file. */
function tensorEntries(
  path: string,
  fileSize: number,
  dataOffset: number,
  alignment: number,
  infos: ReadonlyArray<{ name: string; shape: bigint[]; dtype: number; offset: bigint }>,
): Map<string, GgufTensorEntry> {
  const tensors = new Map<string, GgufTensorEntry>()
  for (const info of infos) {
    const shape = info.shape
      .map((size) => toSafeNumber(path, size, `tensor "${info.name}" dimension`))
      .reverse()
    const relativeOffset = toSafeNumber(path, info.offset, `tensor "${info.name}" offset`)
    if (relativeOffset % alignment !== 0) {
      throw corrupt(
        path,
        `tensor "${info.name}" starts at offset ${relativeOffset}, not a multiple of ${alignment}.`,
      )
    }
    const elementsPerRow = shape[shape.length - 1] ?? 1
    const rowCount = shape.slice(0, -1).reduce((product, size) => product * size, 1)
    const byteLength = ggmlTensorByteLength(info.dtype, elementsPerRow, rowCount)
    const offset = dataOffset + relativeOffset
    if (byteLength !== undefined && offset + byteLength > fileSize) {
      throw corrupt(
        path,
        `is truncated: tensor "${info.name}" needs bytes ${offset}..${offset + byteLength} but the file has ${fileSize}.`,
      )
    }
    const layout = ggmlTypeLayout(info.dtype)
    if (layout !== undefined && byteLength === undefined) {
      throw corrupt(
        path,
        `tensor "${info.name}" has ${elementsPerRow} elements per row, not whole ${ggmlTypeName(info.dtype)} ` +
          `blocks of ${layout.blockSize}.`,
      )
    }
    if (tensors.has(info.name)) throw corrupt(path, `tensor "${info.name}" appears twice.`)
    tensors.set(info.name, { name: info.name, type: info.dtype, shape, offset, byteLength })
  }
  return tensors
}

/**
 * Reads and validates the header of a local GGUF v2/v3 file (metadata and tensor directory; no tensor data).
 *
 * Throws TillerError: 'file-not-found' when the path is missing, 'file-corrupt' naming the file and what is wrong
 * for a bad magic, an unsupported version, a truncated or otherwise damaged header or data section.
 */
export async function readGgufFile(path: string): Promise<GgufFile> {
  const stats = await stat(path).catch(() => undefined)
  if (stats?.isDirectory() === true) {
    throw new TillerError(
      'invalid-argument',
      `${path} is a folder, not a GGUF file; give the path of the .gguf file itself.`,
      { subject: path },
    )
  }
  if (stats === undefined || !stats.isFile()) {
    throw new TillerError('file-not-found', `${path}: no such file. Check the path of the GGUF model.`, {
      subject: path,
    })
  }
  const fileSize = stats.size
  await checkPreamble(path, fileSize)
  const parsed = await parseHeader(path)
  // The parser pads short reads with zeros, so a truncated header parses as garbage that ends past the file.
  const dataOffset = toSafeNumber(path, parsed.tensorDataOffset, 'the tensor data offset')
  if (dataOffset > fileSize) {
    throw corrupt(path, `is truncated: it ends at byte ${fileSize}, inside its metadata or tensor list.`)
  }
  const metadata = new Map<string, MetadataValue>()
  const entries: Record<string, { value: MetadataValue } | undefined> = parsed.typedMetadata
  for (const [key, entry] of Object.entries(entries)) {
    if (!bookkeepingKeys.has(key) && entry !== undefined) metadata.set(key, entry.value)
  }
  const rawAlignment = metadata.get('general.alignment') ?? 32
  const alignment = Number(rawAlignment)
  if (!Number.isInteger(alignment) || alignment <= 0 || alignment % 8 !== 0) {
    throw corrupt(path, `general.alignment is ${String(rawAlignment)}, not a positive multiple of 8.`)
  }
  const tensors = tensorEntries(path, fileSize, dataOffset, alignment, parsed.tensorInfos)
  return {
    path,
    fileSize,
    version: parsed.typedMetadata.version.value,
    metadata,
    typedMetadata: parsed.typedMetadata,
    tensors,
    alignment,
  }
}

/** Throws TillerError('unsupported-tensor-type') unless the tensor's type is one Tiller reads. */
export function assertReadableTensor(
  file: GgufFile,
  tensor: GgufTensorEntry,
): asserts tensor is GgufTensorEntry & {
  byteLength: number
} {
  if (tensor.byteLength === undefined) {
    throw new TillerError(
      'unsupported-tensor-type',
      `${file.path}: tensor "${tensor.name}" has type ${ggmlTypeName(tensor.type)}, which Tiller cannot read ` +
        `(it reads ${supportedGgmlTypeNames.join(', ')}). Download the Q4_K_M, Q5_K_M, Q6_K or Q8_0 file of ` +
        `this model, or re-quantize it with llama.cpp: llama-quantize --allow-requantize IN.gguf OUT.gguf Q4_K_M.`,
      { subject: `${file.path}: ${tensor.name}` },
    )
  }
}
