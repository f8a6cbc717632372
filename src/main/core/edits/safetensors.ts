/**
 * safetensors (ECOSYSTEM.md §3.3), F32 only: encode and decode with the reference reader's validation.
 *
 * Layout: u64 little-endian header length N, N bytes of UTF-8 JSON (padded with spaces so the data starts 8-byte
 * aligned), then one byte buffer that the tensors tile exactly. `__metadata__` maps strings to strings.
 * Tensor data is copied byte for byte, so NaN payloads and signed zeros survive a round trip.
 */
import { describeValue, TillerError } from '../errors.ts'

/** One F32 tensor, row-major. */
export interface F32Tensor {
  shape: number[]
  data: Float32Array
}

/** A decoded file: metadata and tensors in file order of their data. */
export interface SafetensorsContent {
  metadata: Record<string, string>
  tensors: Map<string, F32Tensor>
}

interface HeaderEntry {
  dtype: string
  shape: number[]
  data_offsets: [number, number]
}

/** The reference implementation refuses headers over 100 MB. */
const maxHeaderBytes = 100_000_000

function corrupt(source: string, problem: string): TillerError {
  return new TillerError('file-corrupt', `${source} is not a valid safetensors file: ${problem}.`, {
    subject: source,
  })
}

function elementCount(shape: readonly number[]): number {
  return shape.reduce((product, size) => product * size, 1)
}

function isNaturalNumber(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0
}

/**
 * Serialize tensors and metadata. Tensors are laid out in the map's order.
 * @returns byte chunks to write in order
 */
export function encodeSafetensors(
  tensors: ReadonlyMap<string, F32Tensor>,
  metadata: Record<string, string>,
): Uint8Array[] {
  const header: Record<string, unknown> = { __metadata__: metadata }
  let offset = 0
  const chunks: Uint8Array[] = []
  for (const [name, tensor] of tensors) {
    if (name === '__metadata__')
      throw new TillerError('invalid-argument', 'A tensor cannot be named __metadata__.')
    if (!tensor.shape.every(isNaturalNumber) || elementCount(tensor.shape) !== tensor.data.length) {
      throw new TillerError(
        'shape-mismatch',
        `Tensor ${name}: shape [${tensor.shape.join(', ')}] does not hold ${tensor.data.length} values.`,
        { subject: name },
      )
    }
    const end = offset + tensor.data.byteLength
    header[name] = { dtype: 'F32', shape: tensor.shape, data_offsets: [offset, end] }
    chunks.push(new Uint8Array(tensor.data.buffer, tensor.data.byteOffset, tensor.data.byteLength))
    offset = end
  }
  let json = JSON.stringify(header)
  const jsonBytes = new TextEncoder().encode(json)
  json += ' '.repeat((8 - (jsonBytes.length % 8)) % 8)
  const headerBytes = new TextEncoder().encode(json)
  const prefix = new Uint8Array(8)
  new DataView(prefix.buffer).setBigUint64(0, BigInt(headerBytes.length), true)
  return [prefix, headerBytes, ...chunks]
}

function parseHeader(
  bytes: Uint8Array,
  source: string,
): { header: Record<string, unknown>; dataStart: number } {
  if (bytes.length < 8)
    throw corrupt(source, `only ${bytes.length} bytes, shorter than the 8-byte length prefix`)
  const declared = new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true)
  if (declared > BigInt(Math.min(maxHeaderBytes, bytes.length - 8))) {
    throw corrupt(
      source,
      `header length ${declared} exceeds the file (${bytes.length - 8} bytes after the prefix)`,
    )
  }
  const length = Number(declared)
  if (length < 2) throw corrupt(source, `header length ${length} is too small for a JSON object`)
  let text: string
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + length))
  } catch {
    throw corrupt(source, 'the header is not UTF-8')
  }
  if (!text.startsWith('{')) throw corrupt(source, 'the header does not start with "{"')
  let header: unknown
  try {
    header = JSON.parse(text)
  } catch (error) {
    throw corrupt(source, `the header is not JSON (${(error as Error).message})`)
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) {
    throw corrupt(source, 'the header is not a JSON object')
  }
  return { header: header as Record<string, unknown>, dataStart: 8 + length }
}

function parseMetadata(value: unknown, source: string): Record<string, string> {
  if (value === undefined) return {}
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw corrupt(source, '__metadata__ is not an object')
  }
  for (const [key, entry] of Object.entries(value)) {
    if (typeof entry !== 'string') throw corrupt(source, `__metadata__.${key} is not a string`)
  }
  return value as Record<string, string>
}

function parseEntry(name: string, value: unknown, source: string): HeaderEntry {
  const entry = value as Partial<HeaderEntry> | null
  if (typeof entry !== 'object' || entry === null) throw corrupt(source, `tensor ${name} has no description`)
  if (entry.dtype !== 'F32') {
    throw new TillerError(
      'unsupported-tensor-type',
      `${source}: tensor ${name} has dtype ${describeValue(entry.dtype)}; Tiller edit files hold F32 tensors only.`,
      { subject: name },
    )
  }
  if (!Array.isArray(entry.shape) || !entry.shape.every(isNaturalNumber)) {
    throw corrupt(source, `tensor ${name} has an invalid shape`)
  }
  const offsets = entry.data_offsets
  if (
    !Array.isArray(offsets) ||
    offsets.length !== 2 ||
    !offsets.every(isNaturalNumber) ||
    offsets[0] > offsets[1]
  ) {
    throw corrupt(source, `tensor ${name} has invalid data_offsets`)
  }
  if (offsets[1] - offsets[0] !== elementCount(entry.shape) * 4) {
    throw corrupt(
      source,
      `tensor ${name}: data_offsets span ${offsets[1] - offsets[0]} bytes but F32 [${entry.shape.join(', ')}] needs ` +
        `${elementCount(entry.shape) * 4}`,
    )
  }
  return { dtype: entry.dtype, shape: entry.shape, data_offsets: [offsets[0], offsets[1]] }
}

/**
 * Parse and validate a safetensors file: header bounds, UTF-8 JSON, string metadata, F32 entries whose sizes match
 * their shapes, and offsets that tile the data buffer exactly (no gap, no overlap, nothing after the last tensor).
 */
export function decodeSafetensors(bytes: Uint8Array, source: string): SafetensorsContent {
  const { header, dataStart } = parseHeader(bytes, source)
  const metadata = parseMetadata(header.__metadata__, source)
  const entries = Object.entries(header)
    .filter(([name]) => name !== '__metadata__')
    .map(([name, value]) => [name, parseEntry(name, value, source)] as const)
    .sort(
      (a, b) => a[1].data_offsets[0] - b[1].data_offsets[0] || a[1].data_offsets[1] - b[1].data_offsets[1],
    )
  const bufferLength = bytes.length - dataStart
  let expectedStart = 0
  for (const [name, entry] of entries) {
    if (entry.data_offsets[0] !== expectedStart) {
      throw corrupt(
        source,
        `tensor ${name} starts at byte ${entry.data_offsets[0]} of the data but the previous tensor ends at ${expectedStart}`,
      )
    }
    expectedStart = entry.data_offsets[1]
  }
  if (expectedStart !== bufferLength) {
    throw corrupt(
      source,
      `the tensors cover ${expectedStart} bytes but the data section holds ${bufferLength}`,
    )
  }
  const tensors = new Map<string, F32Tensor>()
  for (const [name, entry] of entries) {
    const [begin, end] = entry.data_offsets
    // Copy into a fresh, aligned buffer (a Node Buffer's slice() would only be a view into a shared pool);
    // Float32Array then reads the bytes as stored (little-endian hosts).
    const copy = new Uint8Array(end - begin)
    copy.set(bytes.subarray(dataStart + begin, dataStart + end))
    const data = new Float32Array(copy.buffer)
    tensors.set(name, { shape: entry.shape, data })
  }
  return { metadata, tensors }
}
