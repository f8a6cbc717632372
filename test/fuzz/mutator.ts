/**
 * A small seeded mutator for fuzzing Tiller's readers: byte-level damage (bit flips, inserts, deletes, truncation,
 * integer fields overwritten with boundary values) and, for JSON text, structural damage (type swaps, deleted or
 * duplicated keys, huge numbers, deep nesting). Every case is a pure function of (format, seed, case index), so a
 * finding reproduces from those three numbers alone.
 */

/** A deterministic pseudo-random source (mulberry32). */
export class Random {
  private state: number

  constructor(seed: number) {
    this.state = seed >>> 0
  }

  /** Uniform in [0, 1). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0
    let mixed = this.state
    mixed = Math.imul(mixed ^ (mixed >>> 15), mixed | 1)
    mixed ^= mixed + Math.imul(mixed ^ (mixed >>> 7), mixed | 61)
    return ((mixed ^ (mixed >>> 14)) >>> 0) / 2 ** 32
  }

  /** Uniform integer in [0, count). */
  below(count: number): number {
    return Math.floor(this.next() * count)
  }

  pick<T>(items: readonly T[]): T {
    return items[this.below(items.length)] as T
  }

  chance(probability: number): boolean {
    return this.next() < probability
  }
}

/** The seed of one case: mixes the run seed, the format name and the case index. */
export function caseSeed(runSeed: number, format: string, caseIndex: number): number {
  let hash = (runSeed ^ 0x9e3779b9) >>> 0
  for (const character of `${format}#${caseIndex}`) {
    hash = Math.imul(hash ^ character.charCodeAt(0), 0x01000193) >>> 0
  }
  return hash
}

/** Integer values that break length and count checks: 0, 1, 2^31 − 1, 2^32, 2^53 − 1 and huge lengths. */
export const boundaryIntegers: readonly bigint[] = [
  0n,
  1n,
  2n ** 31n - 1n,
  2n ** 31n,
  2n ** 32n - 1n,
  2n ** 32n,
  2n ** 53n - 1n,
  2n ** 53n + 1n,
  2n ** 63n - 1n,
  2n ** 64n - 1n,
]

/**
 * Where a byte mutation lands: `focus` bytes at the start hold the structure (a GGUF header, a safetensors JSON
 * header) and get most of the mutations; the rest is bulk tensor data.
 */
function position(random: Random, length: number, focus: number): number {
  if (length === 0) return 0
  const limit = focus > 0 && focus < length && random.chance(0.85) ? focus : length
  return random.below(limit)
}

/** An integer field of a binary format: its byte offset and width. */
export interface IntegerField {
  offset: number
  width: 4 | 8
}

/** Where mutations land: a structured prefix to favour, and known integer fields to overwrite. */
export interface MutationFocus {
  /** Leading bytes holding structure (a GGUF header); 0 for the whole input. */
  prefix: number
  fields: readonly IntegerField[]
}

const noFocus: MutationFocus = { prefix: 0, fields: [] }

function overwrite(bytes: Uint8Array, at: number, width: number, value: bigint): Uint8Array {
  const copy = bytes.slice()
  for (let byte = 0; byte < width && at + byte < copy.length; byte++) {
    copy[at + byte] = Number((value >> BigInt(8 * byte)) & 0xffn)
  }
  return copy
}

/** One byte-level mutation of `bytes` (a new array; the input is left alone). */
export function mutateBytesOnce(
  bytes: Uint8Array,
  random: Random,
  focus: MutationFocus = noFocus,
): Uint8Array {
  const at = position(random, bytes.length, focus.prefix)
  const action = random.below(focus.fields.length > 0 ? 8 : 6)
  if (action >= 6) {
    // A known field overwritten with a boundary value (wrapped to its width), on the valid layout.
    const field = random.pick(focus.fields)
    return overwrite(bytes, field.offset, field.width, random.pick(boundaryIntegers))
  }
  switch (action) {
    case 0: {
      const copy = bytes.slice()
      if (copy.length > 0) copy[at] = (copy[at] ?? 0) ^ (1 << random.below(8))
      return copy
    }
    case 1: {
      const inserted = Uint8Array.from({ length: 1 + random.below(16) }, () => random.below(256))
      return concat([bytes.subarray(0, at), inserted, bytes.subarray(at)])
    }
    case 2:
      return concat([
        bytes.subarray(0, at),
        bytes.subarray(Math.min(bytes.length, at + 1 + random.below(16))),
      ])
    case 3:
      return bytes.slice(0, at)
    default:
      // Anywhere, as if it were a 4- or 8-byte little-endian integer (GGUF and safetensors use both).
      return overwrite(bytes, at, random.chance(0.5) ? 4 : 8, random.pick(boundaryIntegers))
  }
}

/** One to three byte-level mutations. */
export function mutateBytes(bytes: Uint8Array, random: Random, focus: MutationFocus = noFocus): Uint8Array {
  let result = bytes
  const count = 1 + random.below(3)
  for (let step = 0; step < count; step++) result = mutateBytesOnce(result, random, focus)
  return result
}

export function concat(parts: readonly Uint8Array[]): Uint8Array {
  const result = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0))
  let offset = 0
  for (const part of parts) {
    result.set(part, offset)
    offset += part.length
  }
  return result
}

type Json = null | boolean | number | string | Json[] | { [key: string]: Json }

/** Raw JSON text spliced in after serialization, for what JSON.stringify cannot write (duplicate keys, 1e400). */
const rawMarker = '\u0000raw'

interface Slot {
  container: Json[] | { [key: string]: Json }
  key: string | number
}

function slots(value: Json, found: Slot[] = []): Slot[] {
  if (Array.isArray(value)) {
    value.forEach((item, index) => {
      found.push({ container: value, key: index })
      slots(item, found)
    })
  } else if (value !== null && typeof value === 'object') {
    for (const [key, item] of Object.entries(value)) {
      found.push({ container: value, key })
      slots(item, found)
    }
  }
  return found
}

const hugeNumbers = [
  '1e400',
  '-1e400',
  '9007199254740993',
  '1e308',
  '-1',
  '4294967296',
  '2147483648',
  '0.5',
  '-0',
]

function replacement(random: Random, old: Json, raws: string[]): Json {
  const raw = (text: string): string => {
    raws.push(text)
    return `${rawMarker}${raws.length - 1}`
  }
  switch (random.below(7)) {
    case 0:
      return raw(random.pick(hugeNumbers))
    case 1: {
      // Deep nesting: deep enough to hurt a recursive walker, small enough to stay a few kilobytes.
      const depth = random.pick([64, 1000, 20000])
      return raw(`${'['.repeat(depth)}${JSON.stringify(old)}${']'.repeat(depth)}`)
    }
    case 2:
      return typeof old === 'string' ? 0 : String(old)
    case 3:
      return Array.isArray(old) ? {} : [old]
    case 4:
      return random.pick([null, true, false, '', {}, []] as Json[])
    case 5:
      return typeof old === 'string' ? old.repeat(1 + random.below(4)) + '\u{1F600}\uD800' : old
    default:
      return random.pick([0, 1, 2 ** 31 - 1, 2 ** 32, 2 ** 53 - 1, -1, 1.5])
  }
}

/** One to three structural mutations of a JSON document; `undefined` when `text` is not JSON. */
export function mutateJsonText(text: string, random: Random): string | undefined {
  let value: Json
  try {
    value = JSON.parse(text) as Json
  } catch {
    return undefined
  }
  const raws: string[] = []
  const count = 1 + random.below(3)
  for (let step = 0; step < count; step++) {
    const found = slots(value)
    if (found.length === 0) {
      value = replacement(random, value, raws)
      continue
    }
    const { container, key } = random.pick(found)
    const old = (container as Record<string | number, Json>)[key] as Json
    const action = random.below(4)
    if (action === 0 && !Array.isArray(container)) {
      delete container[key as string]
    } else if (action === 1 && !Array.isArray(container)) {
      // A duplicated key: the value becomes raw text `old,"key":other`, so the key appears twice.
      const other = JSON.stringify(replacement(random, old, raws))
      raws.push(`${JSON.stringify(old)},${JSON.stringify(key)}:${other}`)
      container[key as string] = `${rawMarker}${raws.length - 1}`
    } else {
      ;(container as Record<string | number, Json>)[key] = replacement(random, old, raws)
    }
  }
  return splice(JSON.stringify(value), raws)
}

/** Replaces raw markers with their text; a raw text may hold markers of its own, hence a few passes. */
function splice(text: string, raws: readonly string[]): string {
  let result = text
  for (let pass = 0; pass < 4 && result.includes('\\u0000raw'); pass++) {
    result = result.replace(/"\\u0000raw(\d+)"/g, (_, index: string) => raws[Number(index)] ?? 'null')
  }
  return result
}
