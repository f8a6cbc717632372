import { TillerError } from '../errors.ts'

/**
 * Encoding of the GGUF header and KV metadata section (little-endian, GGUF v3: 64-bit counts and lengths).
 *
 * Written here rather than with `@huggingface/gguf`'s serializeGgufMetadata because that function cannot write
 * arrays of uint8 (it tests the element type id for truthiness, and UINT8 is 0) and does not range-check values.
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

type Scalar = number | bigint | boolean | string

/** GGUF value type ids (gguf.md: 0 u8 ... 12 f64). */
const valueTypeIds: Record<GgufScalarTypeName | 'array', number> = {
  uint8: 0,
  int8: 1,
  uint16: 2,
  int16: 3,
  uint32: 4,
  int32: 5,
  float32: 6,
  bool: 7,
  string: 8,
  array: 9,
  uint64: 10,
  int64: 11,
  float64: 12,
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

const magic = [0x47, 0x47, 0x55, 0x46]
const encoder = new TextEncoder()

// Values are packed into blocks of this size: a vocabulary of 262k tokens is ~800k values, and one chunk per value
// would make the writer's per-chunk file writes dominate.
const blockBytes = 1 << 16

/** Appends little-endian values to a list of chunks, packing small values into shared blocks. */
class ByteSink {
  readonly chunks: Uint8Array[] = []
  private block = new Uint8Array(blockBytes)
  private view = new DataView(this.block.buffer)
  private used = 0

  /** The chunks written so far, the last partly filled block cut to its used bytes. */
  finish(): Uint8Array[] {
    if (this.used > 0) this.chunks.push(this.block.slice(0, this.used))
    this.used = 0
    return this.chunks
  }

  private fixed(length: number, write: (view: DataView, offset: number) => void): void {
    if (this.used + length > this.block.length) this.flush()
    write(this.view, this.used)
    this.used += length
  }

  private flush(): void {
    if (this.used === 0) return
    this.chunks.push(this.block.subarray(0, this.used))
    this.block = new Uint8Array(blockBytes)
    this.view = new DataView(this.block.buffer)
    this.used = 0
  }

  bytes(bytes: Uint8Array): void {
    if (bytes.length > blockBytes / 4) {
      this.flush()
      this.chunks.push(bytes)
      return
    }
    if (this.used + bytes.length > this.block.length) this.flush()
    this.block.set(bytes, this.used)
    this.used += bytes.length
  }

  uint32(value: number): void {
    this.fixed(4, (view, offset) => view.setUint32(offset, value, true))
  }

  uint64(value: bigint): void {
    this.fixed(8, (view, offset) => view.setBigUint64(offset, value, true))
  }

  string(value: string): void {
    const bytes = encoder.encode(value)
    this.uint64(BigInt(bytes.length))
    this.bytes(bytes)
  }

  scalar(type: GgufScalarTypeName, value: Scalar): void {
    switch (type) {
      case 'uint8':
        return this.fixed(1, (view, offset) => view.setUint8(offset, Number(value)))
      case 'int8':
        return this.fixed(1, (view, offset) => view.setInt8(offset, Number(value)))
      case 'uint16':
        return this.fixed(2, (view, offset) => view.setUint16(offset, Number(value), true))
      case 'int16':
        return this.fixed(2, (view, offset) => view.setInt16(offset, Number(value), true))
      case 'uint32':
        return this.uint32(Number(value))
      case 'int32':
        return this.fixed(4, (view, offset) => view.setInt32(offset, Number(value), true))
      case 'float32':
        return this.fixed(4, (view, offset) => view.setFloat32(offset, Number(value), true))
      case 'float64':
        return this.fixed(8, (view, offset) => view.setFloat64(offset, Number(value), true))
      case 'uint64':
        return this.uint64(BigInt(value))
      case 'int64':
        return this.fixed(8, (view, offset) => view.setBigInt64(offset, BigInt(value), true))
      case 'bool':
        return this.fixed(1, (view, offset) => view.setUint8(offset, value === true ? 1 : 0))
      case 'string':
        return this.string(String(value))
    }
  }
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
  if (!fits) throw invalid(`GGUF metadata "${key}": ${String(value)} is not a valid ${type} value.`, key)
}

function checkKey(key: string): void {
  // The GGUF spec asks for ASCII keys of at most 65535 bytes.
  if (key.length === 0 || key.length > 65535 || !/^[\x20-\x7e]+$/.test(key)) {
    throw invalid(`GGUF metadata key "${key}" must be 1-65535 printable ASCII characters.`, key)
  }
}

/**
 * The GGUF v3 header and KV section: magic, version 3, tensor count, KV count, then each key, type id and value.
 * Throws TillerError('invalid-argument') naming the key for a bad key, a duplicate or a value outside its type.
 */
export function encodeGgufHeader(
  tensorCount: number,
  metadata: ReadonlyArray<readonly [string, GgufMetadataValue]>,
): Uint8Array[] {
  const sink = new ByteSink()
  sink.bytes(Uint8Array.from(magic))
  sink.uint32(3)
  sink.uint64(BigInt(tensorCount))
  sink.uint64(BigInt(metadata.length))
  const seen = new Set<string>()
  for (const [key, entry] of metadata) {
    checkKey(key)
    if (seen.has(key)) throw invalid(`GGUF metadata key "${key}" appears twice.`, key)
    seen.add(key)
    sink.string(key)
    sink.uint32(valueTypeIds[entry.type])
    if (entry.type === 'array') {
      for (const element of entry.value) checkScalar(key, entry.elementType, element)
      sink.uint32(valueTypeIds[entry.elementType])
      sink.uint64(BigInt(entry.value.length))
      for (const element of entry.value) sink.scalar(entry.elementType, element)
    } else {
      checkScalar(key, entry.type, entry.value)
      sink.scalar(entry.type, entry.value)
    }
  }
  return sink.finish()
}
