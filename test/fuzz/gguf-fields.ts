/**
 * Where a valid GGUF file keeps its integer fields (counts, lengths, value types, dims, tensor types and offsets),
 * so the mutator can overwrite exactly those with boundary values instead of hoping a random offset lands on one.
 * Walks the layout of GGUF v3 (ggml docs/gguf.md): header, key-value pairs, tensor infos.
 */

import type { IntegerField } from './mutator.ts'

/** Byte sizes of the fixed-size GGUF value types 0–12 (string = 8 and array = 9 are variable). */
const scalarSizes = new Map<number, number>([
  [0, 1],
  [1, 1],
  [2, 2],
  [3, 2],
  [4, 4],
  [5, 4],
  [6, 4],
  [7, 1],
  [10, 8],
  [11, 8],
  [12, 8],
])

const stringType = 8
const arrayType = 9

/** The integer fields of the valid GGUF file `bytes`, in file order. */
export function ggufIntegerFields(bytes: Uint8Array): IntegerField[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  const fields: IntegerField[] = []
  let offset = 8
  const u32 = (): number => {
    fields.push({ offset, width: 4 })
    const value = view.getUint32(offset, true)
    offset += 4
    return value
  }
  const u64 = (): number => {
    fields.push({ offset, width: 8 })
    const value = Number(view.getBigUint64(offset, true))
    offset += 8
    return value
  }
  const skipString = (): void => {
    // Read first: `offset += u64()` would add to the offset from before u64 moved it.
    const length = u64()
    offset += length
  }
  const skipValue = (type: number): void => {
    if (type === stringType) return skipString()
    if (type === arrayType) {
      const itemType = u32()
      const count = u64()
      // Long arrays (a vocabulary) contribute their first items; the rest repeat the same kind of field.
      for (let item = 0; item < count; item++) {
        if (item < 4 || itemType !== stringType) {
          if (itemType === stringType || itemType === arrayType) skipValue(itemType)
          else offset += scalarSizes.get(itemType) ?? 0
        } else offset += 8 + Number(view.getBigUint64(offset, true))
      }
      return
    }
    const size = scalarSizes.get(type) ?? 0
    if (size === 4 || size === 8) fields.push({ offset, width: size })
    offset += size
  }
  const tensorCount = u64()
  const keyCount = u64()
  for (let key = 0; key < keyCount; key++) {
    skipString()
    skipValue(u32())
  }
  for (let tensor = 0; tensor < tensorCount; tensor++) {
    skipString()
    const dimensions = u32()
    for (let dimension = 0; dimension < dimensions; dimension++) u64()
    u32()
    u64()
  }
  return fields
}
