import { halfAt, signedBytes } from './block-bytes.ts'
import { dequantizeBlocks, type BlockLayout } from './block-loop.ts'

/**
 * Dequantizers for ggml's legacy 32-element blocks. Every block starts with a float16 scale d; the `_1` types add a
 * float16 minimum m. Quants are stored as nibbles: byte j holds element j in its low 4 bits and element j + 16 in
 * its high 4 bits; the 5-bit types keep each element's fifth bit in a 32-bit little-endian word qh (bit j for
 * element j).
 *
 *   Q4_0  18 bytes: d, qs[16]            value = (q - 8) * d          q in 0..15
 *   Q4_1  20 bytes: d, m, qs[16]         value = q * d + m            q in 0..15
 *   Q5_0  22 bytes: d, qh[4], qs[16]     value = (q - 16) * d         q in 0..31
 *   Q5_1  24 bytes: d, m, qh[4], qs[16]  value = q * d + m            q in 0..31
 *   Q8_0  34 bytes: d, qs[32] int8       value = q * d
 *
 * Each product is exact in double precision (an 11-bit scale times a small integer) and is rounded to float32
 * once, on the store, so the results are bit for bit those of ggml's float32 dequantize_row_* functions.
 * Signature of each: bytes `[elements / 32 * bytesPerBlock]`, element count -> float32 `[elements]` (written into
 * `output` when given).
 */

const block = 32
const half = 16

/** A legacy type's layout: 32 elements in `bytesPerBlock` bytes. */
function legacy(name: string, bytesPerBlock: number): BlockLayout {
  return { name, elementsPerBlock: block, bytesPerBlock }
}

export function dequantizeQ4_0(bytes: Uint8Array, elementCount: number, output?: Float32Array): Float32Array {
  return dequantizeBlocks(legacy('Q4_0', 18), bytes, elementCount, output, (values, start, base) => {
    const scale = halfAt(bytes, start)
    for (let j = 0; j < half; j++) {
      const packed = bytes[start + 2 + j] as number
      values[base + j] = ((packed & 0x0f) - 8) * scale
      values[base + j + half] = ((packed >> 4) - 8) * scale
    }
  })
}

export function dequantizeQ4_1(bytes: Uint8Array, elementCount: number, output?: Float32Array): Float32Array {
  return dequantizeBlocks(legacy('Q4_1', 20), bytes, elementCount, output, (values, start, base) => {
    const scale = halfAt(bytes, start)
    const minimum = halfAt(bytes, start + 2)
    for (let j = 0; j < half; j++) {
      const packed = bytes[start + 4 + j] as number
      values[base + j] = (packed & 0x0f) * scale + minimum
      values[base + j + half] = (packed >> 4) * scale + minimum
    }
  })
}

/** The 32-bit fifth-bit word of a 5-bit block at `offset`. */
function highBits(bytes: Uint8Array, offset: number): number {
  return (
    ((bytes[offset] as number) |
      ((bytes[offset + 1] as number) << 8) |
      ((bytes[offset + 2] as number) << 16) |
      ((bytes[offset + 3] as number) << 24)) >>>
    0
  )
}

export function dequantizeQ5_0(bytes: Uint8Array, elementCount: number, output?: Float32Array): Float32Array {
  return dequantizeBlocks(legacy('Q5_0', 22), bytes, elementCount, output, (values, start, base) => {
    const scale = halfAt(bytes, start)
    const high = highBits(bytes, start + 2)
    for (let j = 0; j < half; j++) {
      const packed = bytes[start + 6 + j] as number
      const low = (packed & 0x0f) | (((high >>> j) & 1) << 4)
      const upper = (packed >> 4) | (((high >>> (j + half)) & 1) << 4)
      values[base + j] = (low - 16) * scale
      values[base + j + half] = (upper - 16) * scale
    }
  })
}

export function dequantizeQ5_1(bytes: Uint8Array, elementCount: number, output?: Float32Array): Float32Array {
  return dequantizeBlocks(legacy('Q5_1', 24), bytes, elementCount, output, (values, start, base) => {
    const scale = halfAt(bytes, start)
    const minimum = halfAt(bytes, start + 2)
    const high = highBits(bytes, start + 4)
    for (let j = 0; j < half; j++) {
      const packed = bytes[start + 8 + j] as number
      const low = (packed & 0x0f) | (((high >>> j) & 1) << 4)
      const upper = (packed >> 4) | (((high >>> (j + half)) & 1) << 4)
      values[base + j] = low * scale + minimum
      values[base + j + half] = upper * scale + minimum
    }
  })
}

export function dequantizeQ8_0(bytes: Uint8Array, elementCount: number, output?: Float32Array): Float32Array {
  const signed = signedBytes(bytes)
  return dequantizeBlocks(legacy('Q8_0', 34), bytes, elementCount, output, (values, start, base) => {
    const scale = halfAt(bytes, start)
    for (let j = 0; j < block; j++) values[base + j] = (signed[start + 2 + j] as number) * scale
  })
}
