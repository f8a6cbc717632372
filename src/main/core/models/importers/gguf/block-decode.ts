import { GGMLQuantizationType } from '@huggingface/gguf'

import { ggmlTypeLayout, ggmlTypeName } from '../../../gguf/ggml-types.ts'
import { blockCount, halfAt } from './block-bytes.ts'
import { minimumK4, scaleK4 } from './dequantize-k.ts'

/**
 * Block-quantized tensors decoded to their parts rather than to floats, for writers that keep weights quantized
 * (ONNX MatMulNBits: per-block scales, unsigned quants and zero points along the input dimension).
 *
 * Every decode here describes element i of group g = floor(i / groupSize) as
 *   value[i] = scales[g] * (quants[i] - zeroPoint) + offsets[g]      (offsets absent: 0)
 * with quants unsigned integers of `bits` bits, one per element in storage order. The legacy types map exactly:
 *   Q4_0 bits 4, zero point 8;  Q5_0 bits 5, zero 16;  Q8_0 bits 8, zero 128 (int8 q stored as q + 128);
 *   Q4_1 / Q5_1 bits 4 / 5, zero 0, offsets = the block minimum m.
 * Q4_K / Q5_K decode to 32-element groups with scale d * scale_j and offset -dmin * min_j (zero 0); Q4_K is a
 * block-32 4-bit layout with a float zero point, as MatMulNBits takes it.
 */
export interface QuantizedGroups {
  type: string
  groupSize: number
  bits: number
  zeroPoint: number
  /** `[groups]` */
  scales: Float32Array
  /** `[groups]`, or undefined when every group's offset is 0. */
  offsets: Float32Array | undefined
  /** `[elements]` */
  quants: Uint8Array
}

interface LegacyLayout {
  bytesPerBlock: number
  bits: 4 | 5 | 8
  zeroPoint: number
  hasMinimum: boolean
}

const legacyLayouts = new Map<number, LegacyLayout>([
  [GGMLQuantizationType.Q4_0, { bytesPerBlock: 18, bits: 4, zeroPoint: 8, hasMinimum: false }],
  [GGMLQuantizationType.Q4_1, { bytesPerBlock: 20, bits: 4, zeroPoint: 0, hasMinimum: true }],
  [GGMLQuantizationType.Q5_0, { bytesPerBlock: 22, bits: 5, zeroPoint: 16, hasMinimum: false }],
  [GGMLQuantizationType.Q5_1, { bytesPerBlock: 24, bits: 5, zeroPoint: 0, hasMinimum: true }],
  [GGMLQuantizationType.Q8_0, { bytesPerBlock: 34, bits: 8, zeroPoint: 128, hasMinimum: false }],
])

function decodeLegacy(
  type: number,
  layout: LegacyLayout,
  bytes: Uint8Array,
  elementCount: number,
): QuantizedGroups {
  const name = ggmlTypeName(type)
  const blocks = blockCount(bytes, elementCount, 32, layout.bytesPerBlock, name)
  const scales = new Float32Array(blocks)
  const offsets = layout.hasMinimum ? new Float32Array(blocks) : undefined
  const quants = new Uint8Array(elementCount)
  const groups = {
    type: name,
    groupSize: 32,
    bits: layout.bits,
    zeroPoint: layout.zeroPoint,
    scales,
    offsets,
    quants,
  }
  if (layout.bits === 8 && bytes.byteOffset % 2 === 0) {
    decodeQ8Pairs(bytes, blocks, scales, quants)
    return groups
  }
  for (let block = 0; block < blocks; block++) {
    const start = block * layout.bytesPerBlock
    scales[block] = halfAt(bytes, start)
    if (offsets !== undefined) offsets[block] = halfAt(bytes, start + 2)
    const base = block * 32
    if (layout.bits === 8) {
      for (let j = 0; j < 32; j++) quants[base + j] = ((bytes[start + 2 + j] as number) + 128) & 0xff
      continue
    }
    const headerBytes = offsets === undefined ? 2 : 4
    const high = layout.bits === 5 ? start + headerBytes : -1
    const nibbles = start + headerBytes + (layout.bits === 5 ? 4 : 0)
    for (let j = 0; j < 16; j++) {
      const packed = bytes[nibbles + j] as number
      let low = packed & 0x0f
      let upper = packed >> 4
      if (high >= 0) {
        low |= (((bytes[high + (j >> 3)] as number) >> (j & 7)) & 1) << 4
        upper |= (((bytes[high + 2 + (j >> 3)] as number) >> (j & 7)) & 1) << 4
      }
      quants[base + j] = low
      quants[base + j + 16] = upper
    }
  }
  return groups
}

/**
 * Q8_0 blocks (a float16 scale, then 32 int8 quants: 34 bytes, so every quant pair starts at an even byte) → their
 * scales and unsigned quants q + 128, two quants per operation: flipping each byte's top bit adds 128 modulo 256.
 * `bytes` must start at an even offset of its buffer.
 */
function decodeQ8Pairs(bytes: Uint8Array, blocks: number, scales: Float32Array, quants: Uint8Array): void {
  const sourcePairs = new Uint16Array(bytes.buffer, bytes.byteOffset, bytes.length >> 1)
  const quantPairs = new Uint16Array(quants.buffer, quants.byteOffset, quants.length >> 1)
  for (let block = 0; block < blocks; block++) {
    scales[block] = halfAt(bytes, block * 34)
    const source = block * 17 + 1
    const target = block * 16
    for (let pair = 0; pair < 16; pair++)
      quantPairs[target + pair] = (sourcePairs[source + pair] as number) ^ 0x8080
  }
}

/** Q4_K (144-byte) or Q5_K (176-byte) super-blocks -> eight 32-element groups each. */
function decodeK(type: number, bytes: Uint8Array, elementCount: number): QuantizedGroups {
  const fiveBit = type === GGMLQuantizationType.Q5_K
  const bytesPerBlock = fiveBit ? 176 : 144
  const name = ggmlTypeName(type)
  const blocks = blockCount(bytes, elementCount, 256, bytesPerBlock, name)
  const scales = new Float32Array(blocks * 8)
  const offsets = new Float32Array(blocks * 8)
  const quants = new Uint8Array(elementCount)
  for (let block = 0; block < blocks; block++) {
    const start = block * bytesPerBlock
    const scale = halfAt(bytes, start)
    const minimumScale = halfAt(bytes, start + 2)
    for (let group = 0; group < 8; group++) {
      scales[block * 8 + group] = scale * scaleK4(bytes, start + 4, group)
      offsets[block * 8 + group] = -(minimumScale * minimumK4(bytes, start + 4, group))
    }
    const nibbles = start + (fiveBit ? 48 : 16)
    for (let chunk = 0; chunk < 4; chunk++) {
      const base = block * 256 + 64 * chunk
      for (let l = 0; l < 32; l++) {
        const packed = bytes[nibbles + 32 * chunk + l] as number
        const high = fiveBit ? (bytes[start + 16 + l] as number) >> (2 * chunk) : 0
        quants[base + l] = (packed & 0x0f) | ((high & 1) << 4)
        quants[base + 32 + l] = (packed >> 4) | ((high & 2) << 3)
      }
    }
  }
  return { type: name, groupSize: 32, bits: fiveBit ? 5 : 4, zeroPoint: 0, scales, offsets, quants }
}

/**
 * The float values of a legacy type's groups, bit for bit what the type's dequantizer gives (dequantize-legacy.ts
 * computes the same products and sums in the same order: (q − zero)·d, or q·d + m), or undefined for the K-quants,
 * whose dequantizers multiply the super-block and group scales in another order. Saves decoding the bytes twice.
 */
export function legacyGroupValues(type: number, groups: QuantizedGroups): Float32Array | undefined {
  if (!legacyLayouts.has(type)) return undefined
  const { scales, offsets, quants, zeroPoint, groupSize } = groups
  const values = new Float32Array(quants.length)
  for (let group = 0; group < scales.length; group++) {
    const scale = scales[group] as number
    const start = group * groupSize
    // No offset: nothing is added, since (−0) + 0 would turn a negative zero into a positive one.
    if (offsets === undefined) {
      for (let at = start; at < start + groupSize; at++)
        values[at] = ((quants[at] as number) - zeroPoint) * scale
      continue
    }
    const offset = offsets[group] as number
    for (let at = start; at < start + groupSize; at++) values[at] = (quants[at] as number) * scale + offset
  }
  return values
}

/**
 * Whether every value of the groups is finite: with quants of at most 8 bits and float16 scales and offsets, a
 * value is finite exactly when its group's scale and offset are.
 */
export function groupsAreFinite(groups: QuantizedGroups): boolean {
  for (const scale of groups.scales) if (scale - scale !== 0) return false
  if (groups.offsets !== undefined)
    for (const offset of groups.offsets) if (offset - offset !== 0) return false
  return true
}

/**
 * For the types with groups (hasQuantizedGroups), whether every value of `bytes` is finite, read from the float16
 * block scales alone without decoding the groups: a legacy block's scale (and minimum), a K-quant super-block's d and
 * dmin. With integer quants and sub-block scales of at most 8 bits, a value is finite exactly when they are, as
 * groupsAreFinite says of the decoded groups. Undefined for other types.
 */
export function blockScalesAreFinite(type: number, bytes: Uint8Array): boolean | undefined {
  const layout = ggmlTypeLayout(type)
  if (!hasQuantizedGroups(type) || layout === undefined) return undefined
  const { bytesPerBlock } = layout
  const legacy = legacyLayouts.get(type)
  const secondHalf = legacy === undefined || legacy.hasMinimum
  // The high byte of a float16 with every exponent bit set (0x7c of 0x7c00) is an infinity or a NaN.
  for (let start = 0; start + bytesPerBlock <= bytes.length; start += bytesPerBlock) {
    if (((bytes[start + 1] as number) & 0x7c) === 0x7c) return false
    if (secondHalf && ((bytes[start + 3] as number) & 0x7c) === 0x7c) return false
  }
  return true
}

/** True for the legacy types (Q4_0, Q4_1, Q5_0, Q5_1, Q8_0), whose values legacyGroupValues gives. */
export function hasLegacyGroups(type: number): boolean {
  return legacyLayouts.has(type)
}

/** True for the types decodeQuantizedGroups takes. */
export function hasQuantizedGroups(type: number): boolean {
  return legacyLayouts.has(type) || type === GGMLQuantizationType.Q4_K || type === GGMLQuantizationType.Q5_K
}

/**
 * Whether a type's groups carry offsets (Q4_1, Q5_1 and the K-quants Q4_K, Q5_K): what `offsets` of its groups
 * holds, known before any bytes are read.
 */
export function hasGroupOffsets(type: number): boolean {
  return (
    legacyLayouts.get(type)?.hasMinimum === true ||
    type === GGMLQuantizationType.Q4_K ||
    type === GGMLQuantizationType.Q5_K
  )
}

/**
 * Raw tensor bytes of a legacy type (Q4_0, Q4_1, Q5_0, Q5_1, Q8_0) or Q4_K/Q5_K -> its groups. Throws RangeError
 * for other types and for byte counts that do not hold `elementCount` elements.
 */
export function decodeQuantizedGroups(
  type: number,
  bytes: Uint8Array,
  elementCount: number,
): QuantizedGroups {
  const legacy = legacyLayouts.get(type)
  if (legacy !== undefined) return decodeLegacy(type, legacy, bytes, elementCount)
  if (type === GGMLQuantizationType.Q4_K || type === GGMLQuantizationType.Q5_K) {
    return decodeK(type, bytes, elementCount)
  }
  throw new RangeError(`${ggmlTypeName(type)} has no group decode`)
}
