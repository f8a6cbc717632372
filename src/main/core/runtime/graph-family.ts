/**
 * Tell a decoder graph's export family (RUNTIME-NOTES §2.1) from its node op types, without decoding weights.
 *
 * The ModelProto is walked field by field straight from the file: only NodeProto messages are read; initializer
 * payloads (possibly hundreds of MB when weights are embedded) are skipped by their length prefix.
 */
import { closeSync, openSync, readSync, fstatSync } from 'node:fs'
import type { GraphFamily } from '../models/graph-contract.ts'

/** Protobuf field numbers used here (onnx.proto). */
const modelGraphField = 7
const graphNodeField = 1
const nodeOpTypeField = 4
const nodeDomainField = 7

/** Op types only the onnxruntime-genai builder family uses (com.microsoft domain). */
const builderOps = new Set(['GroupQueryAttention', 'SkipSimplifiedLayerNormalization', 'MultiHeadAttention'])

/** Bytes read from the file at a time: a graph's node section is read in a few reads, not one per field. */
const windowBytes = 64 * 1024

/**
 * A positioned reader over a file through a window of `windowBytes`: tags, lengths and node messages come from
 * the window, and skipped payloads (initializers) are never read.
 */
class FileCursor {
  private readonly descriptor: number
  readonly size: number
  position = 0
  private window = Buffer.alloc(0)
  /** File offset of `window[0]`. */
  private windowStart = 0

  constructor(path: string) {
    this.descriptor = openSync(path, 'r')
    this.size = fstatSync(this.descriptor).size
  }

  /** Make `window` hold the `length` bytes at `position` (fewer only at the end of the file). */
  private fill(length: number): void {
    const offset = this.position - this.windowStart
    if (offset >= 0 && offset + length <= this.window.length) return
    const wanted = Math.min(Math.max(length, windowBytes), this.size - this.position)
    const window = Buffer.alloc(Math.max(0, wanted))
    const count = window.length === 0 ? 0 : readSync(this.descriptor, window, 0, window.length, this.position)
    this.window = window.subarray(0, count)
    this.windowStart = this.position
  }

  read(length: number): Buffer {
    this.fill(length)
    const offset = this.position - this.windowStart
    if (offset + length > this.window.length) throw new Error('truncated protobuf')
    this.position += length
    return this.window.subarray(offset, offset + length)
  }

  varint(): number {
    let result = 0
    let scale = 1
    for (let shift = 0; shift < 64; shift += 7) {
      const byte = this.read(1)[0] as number
      result += (byte & 0x7f) * scale
      if ((byte & 0x80) === 0) return result
      scale *= 128
    }
    throw new Error('malformed varint')
  }

  /** Skip the payload of a field with the given wire type (the tag has been read). */
  skip(wireType: number): void {
    if (wireType === 0) this.varint()
    else if (wireType === 1) this.position += 8
    else if (wireType === 2) {
      const length = this.varint()
      this.position += length
    } else if (wireType === 5) this.position += 4
    else throw new Error(`unsupported wire type ${wireType}`)
  }

  close(): void {
    closeSync(this.descriptor)
  }
}

/** Read varint fields from an in-memory message. */
function readVarint(buffer: Buffer, start: number): [number, number] {
  let result = 0
  let scale = 1
  let position = start
  for (;;) {
    const byte = buffer[position++] as number
    result += (byte & 0x7f) * scale
    if ((byte & 0x80) === 0) return [result, position]
    scale *= 128
  }
}

/** The op type and domain of one NodeProto message. */
function nodeOp(message: Buffer): { opType: string; domain: string } {
  let opType = ''
  let domain = ''
  let position = 0
  while (position < message.length) {
    const [tag, afterTag] = readVarint(message, position)
    const field = Math.floor(tag / 8)
    const wireType = tag & 7
    position = afterTag
    if (wireType === 2) {
      const [length, afterLength] = readVarint(message, position)
      const text = () => message.toString('utf8', afterLength, afterLength + length)
      if (field === nodeOpTypeField) opType = text()
      else if (field === nodeDomainField) domain = text()
      position = afterLength + length
    } else if (wireType === 0) position = readVarint(message, position)[1]
    else if (wireType === 1) position += 8
    else if (wireType === 5) position += 4
    else break
  }
  return { opType, domain }
}

/** The op types (`domain::opType`, domain empty for ai.onnx) of every node in the main graph of `graphPath`. */
export function graphOpTypes(graphPath: string): Set<string> {
  const cursor = new FileCursor(graphPath)
  const ops = new Set<string>()
  try {
    while (cursor.position < cursor.size) {
      const tag = cursor.varint()
      if (Math.floor(tag / 8) !== modelGraphField || (tag & 7) !== 2) {
        cursor.skip(tag & 7)
        continue
      }
      const graphLength = cursor.varint()
      const graphEnd = cursor.position + graphLength
      while (cursor.position < graphEnd) {
        const graphTag = cursor.varint()
        if (Math.floor(graphTag / 8) === graphNodeField && (graphTag & 7) === 2) {
          const nodeLength = cursor.varint()
          const { opType, domain } = nodeOp(cursor.read(nodeLength))
          ops.add(domain === '' || domain === 'ai.onnx' ? opType : `${domain}::${opType}`)
        } else cursor.skip(graphTag & 7)
      }
    }
  } finally {
    cursor.close()
  }
  return ops
}

/** Which family exported the graph at `graphPath`; 'unknown' if the file cannot be walked or has no nodes. */
export function detectGraphFamily(graphPath: string): GraphFamily | 'unknown' {
  let ops: Set<string>
  try {
    ops = graphOpTypes(graphPath)
  } catch {
    return 'unknown'
  }
  if (ops.size === 0) return 'unknown'
  for (const op of ops) {
    const [domain, opType] = op.split('::')
    if (domain === 'com.microsoft' && opType !== undefined && builderOps.has(opType)) return 'builder'
  }
  return 'optimum'
}
