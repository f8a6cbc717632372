import { blockCount, halfAt, outputFor, signedBytes } from './block-bytes.ts'

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

export function dequantizeQ4_0(bytes: Uint8Array, elementCount: number, output?: Float32Array): Float32Array {
  const blocks = blockCount(bytes, elementCount, block, 18, 'Q4_0')
  const values = outputFor(elementCount, output, 'Q4_0')
  for (let index = 0; index < blocks; index++) {
    const start = index * 18
    const scale = halfAt(bytes, start)
    const base = index * block
    for (let j = 0; j < half; j++) {
      const packed = bytes[start + 2 + j] as number
      values[base + j] = ((packed & 0x0f) - 8) * scale
      values[base + j + half] = ((packed >> 4) - 8) * scale
    }
  }
  return values
}

export function dequantizeQ4_1(bytes: Uint8Array, elementCount: number, output?: Float32Array): Float32Array {
  const blocks = blockCount(bytes, elementCount, block, 20, 'Q4_1')
  const values = outputFor(elementCount, output, 'Q4_1')
  for (let index = 0; index < blocks; index++) {
    const start = index * 20
    const scale = halfAt(bytes, start)
    const minimum = halfAt(bytes, start + 2)
    const base = index * block
    for (let j = 0; j < half; j++) {
      const packed = bytes[start + 4 + j] as number
      values[base + j] = (packed & 0x0f) * scale + minimum
      values[base + j + half] = (packed >> 4) * scale + minimum
    }
  }
  return values
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
  const blocks = blockCount(bytes, elementCount, block, 22, 'Q5_0')
  const values = outputFor(elementCount, output, 'Q5_0')
  for (let index = 0; index < blocks; index++) {
    const start = index * 22
    const scale = halfAt(bytes, start)
    const high = highBits(bytes, start + 2)
    const base = index * block
    for (let j = 0; j < half; j++) {
      const packed = bytes[start + 6 + j] as number
      const low = (packed & 0x0f) | (((high >>> j) & 1) << 4)
      const upper = (packed >> 4) | (((high >>> (j + half)) & 1) << 4)
      values[base + j] = (low - 16) * scale
      values[base + j + half] = (upper - 16) * scale
    }
  }
  return values
}

export function dequantizeQ5_1(bytes: Uint8Array, elementCount: number, output?: Float32Array): Float32Array {
  const blocks = blockCount(bytes, elementCount, block, 24, 'Q5_1')
  const values = outputFor(elementCount, output, 'Q5_1')
  for (let index = 0; index < blocks; index++) {
    const start = index * 24
    const scale = halfAt(bytes, start)
    const minimum = halfAt(bytes, start + 2)
    const high = highBits(bytes, start + 4)
    const base = index * block
    for (let j = 0; j < half; j++) {
      const packed = bytes[start + 8 + j] as number
      const low = (packed & 0x0f) | (((high >>> j) & 1) << 4)
      const upper = (packed >> 4) | (((high >>> (j + half)) & 1) << 4)
      values[base + j] = low * scale + minimum
      values[base + j + half] = upper * scale + minimum
    }
  }
  return values
}

export function dequantizeQ8_0(bytes: Uint8Array, elementCount: number, output?: Float32Array): Float32Array {
  const blocks = blockCount(bytes, elementCount, block, 34, 'Q8_0')
  const values = outputFor(elementCount, output, 'Q8_0')
  const signed = signedBytes(bytes)
  for (let index = 0; index < blocks; index++) {
    const start = index * 34
    const scale = halfAt(bytes, start)
    const base = index * block
    for (let j = 0; j < block; j++) values[base + j] = (signed[start + 2 + j] as number) * scale
  }
  return values
}
