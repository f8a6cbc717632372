import { open } from 'node:fs/promises'

import { TillerError } from '../../../errors.ts'
import type { GgufFile } from './gguf-file.ts'

/**
 * Exact string arrays from a GGUF's metadata. The GGUF parser decodes strings with a default TextDecoder, which
 * drops a leading U+FEFF: the SentencePiece piece "\uFEFF" (Llama 2's byte-order-mark token) would arrive as "" and
 * the text it stands for would tokenize differently. The token and merge lists are therefore read again from the
 * header bytes here, decoded with the mark kept.
 */

// Byte sizes of the fixed-size GGUF value types (gguf.md: 0 u8, 1 i8, 2 u16, 3 i16, 4 u32, 5 i32, 6 f32, 7 bool,
// 10 u64, 11 i64, 12 f64); 8 is a string and 9 an array.
const fixedSizes: Record<number, number> = {
  0: 1,
  1: 1,
  2: 2,
  3: 2,
  4: 4,
  5: 4,
  6: 4,
  7: 1,
  10: 8,
  11: 8,
  12: 8,
}
const stringType = 8
const maximumNesting = 8
const arrayType = 9

const decoder = new TextDecoder('utf-8', { ignoreBOM: true })

/** Reads little-endian values from the header bytes, refusing any read past them. */
class HeaderReader {
  position = 0
  constructor(
    private readonly file: GgufFile,
    private readonly bytes: Buffer,
  ) {}

  private need(length: number): number {
    const start = this.position
    if (length < 0 || start + length > this.bytes.length) {
      throw new TillerError(
        'file-corrupt',
        `${this.file.path}: its metadata runs past the start of the tensor data (byte ${this.bytes.length}). ` +
          `The file is damaged; convert the model again.`,
        { subject: this.file.path },
      )
    }
    this.position += length
    return start
  }

  uint32(): number {
    return this.bytes.readUInt32LE(this.need(4))
  }

  length(): number {
    const value = this.bytes.readBigUInt64LE(this.need(8))
    return value > BigInt(this.bytes.length) ? this.bytes.length + 1 : Number(value)
  }

  string(): string {
    const length = this.length()
    const start = this.need(length)
    return decoder.decode(this.bytes.subarray(start, start + length))
  }

  skip(length: number): void {
    this.need(length)
  }

  /** Skips one value of `type` (an array's elements included; arrays nested deeper than GGUF writers go are refused). */
  skipValue(type: number, depth = 0): void {
    const size = fixedSizes[type]
    if (size !== undefined) return this.skip(size)
    if (type === stringType) return this.skip(this.length())
    if (type !== arrayType || depth > maximumNesting) return this.skip(this.bytes.length + 1)
    const elementType = this.uint32()
    const count = this.length()
    const elementSize = fixedSizes[elementType]
    if (elementSize !== undefined) return this.skip(count * elementSize)
    for (let index = 0; index < count; index++) this.skipValue(elementType, depth + 1)
  }
}

/** The header bytes: everything before the first tensor's data (the whole file when it has no tensors). */
async function headerBytes(file: GgufFile): Promise<Buffer> {
  let end = file.fileSize
  for (const tensor of file.tensors.values()) end = Math.min(end, tensor.offset)
  const bytes = Buffer.alloc(end)
  const handle = await open(file.path, 'r')
  try {
    let read = 0
    while (read < end) {
      const { bytesRead } = await handle.read(bytes, read, end - read, read)
      if (bytesRead === 0) break
      read += bytesRead
    }
  } finally {
    await handle.close()
  }
  return bytes
}

/**
 * `file` with the string arrays under `keys` decoded again exactly from its bytes (the other metadata as parsed).
 * Keys that are absent or not string arrays are left as they are.
 */
export async function withExactStringArrays(file: GgufFile, keys: readonly string[]): Promise<GgufFile> {
  if (!keys.some((key) => Array.isArray(file.metadata.get(key)))) return file
  const reader = new HeaderReader(file, await headerBytes(file))
  reader.skip(8)
  reader.skip(8)
  const keyValueCount = reader.length()
  const metadata = new Map(file.metadata)
  for (let entry = 0; entry < keyValueCount; entry++) {
    const key = reader.string()
    const type = reader.uint32()
    if (!keys.includes(key) || type !== arrayType) {
      reader.skipValue(type)
      continue
    }
    const elementType = reader.uint32()
    const count = reader.length()
    if (elementType !== stringType) {
      for (let index = 0; index < count; index++) reader.skipValue(elementType)
      continue
    }
    const strings: string[] = []
    for (let index = 0; index < count; index++) strings.push(reader.string())
    metadata.set(key, strings)
  }
  return { ...file, metadata }
}
