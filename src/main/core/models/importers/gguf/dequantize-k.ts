import { halfAt, signedBytes } from './block-bytes.ts'
import { dequantizeBlocks, type BlockLayout } from './block-loop.ts'

/**
 * Dequantizers for ggml's K-quants: super-blocks of 256 elements split into sub-blocks of 16 or 32, each with a
 * small integer scale (and for Q2_K/Q4_K/Q5_K a minimum) that multiplies a float16 super-block scale. Byte
 * layouts (ggml-common.h), offsets within one super-block:
 *
 *   Q2_K  84 bytes: scales[16] @0 (low nibble scale, high nibble min, per 16 elements), qs[64] @16 (2-bit),
 *         d @80, dmin @82.                   value = d * scale * q - dmin * min
 *   Q3_K 110 bytes: hmask[32] @0 (third bit), qs[64] @32 (low 2 bits), scales[12] @96 (16 six-bit scales,
 *         offset by 32), d @108.             value = d * (scale - 32) * (q - 4)
 *   Q4_K 144 bytes: d @0, dmin @2, scales[12] @4 (8 six-bit scales and 8 mins, get_scale_min_k4 packing),
 *         qs[128] @16.                       value = d * scale * q - dmin * min
 *   Q5_K 176 bytes: d @0, dmin @2, scales[12] @4, qh[32] @16 (fifth bit), qs[128] @48.   as Q4_K, q in 0..31
 *   Q6_K 210 bytes: ql[128] @0 (low 4 bits), qh[64] @128 (high 2 bits), scales[16] int8 @192, d @208.
 *                                            value = d * scale * (q - 32)
 *
 * The 2-, 4- and 6-bit quants are interleaved in 128-element halves: byte l of a 32-byte run holds element l of
 * the first sub-run in its lowest bits and element l + 32 (+ 64, + 96) in its higher bits. Integer scale times
 * float16 is exact in float32 and the final value is rounded once, as in ggml's dequantize_row_*.
 * Signature of each: bytes `[elements / 256 * bytesPerBlock]`, element count -> float32 `[elements]`.
 */

const superBlock = 256

/** A K-quant's layout: 256 elements in `bytesPerBlock` bytes. */
function kQuant(name: string, bytesPerBlock: number): BlockLayout {
  return { name, elementsPerBlock: superBlock, bytesPerBlock }
}

/**
 * The 6-bit scale of 32-element sub-block `index` (0..7) of a Q4_K/Q5_K super-block, from its 12 packed bytes at
 * `offset`: sub-blocks 0..3 keep it in the low 6 bits of bytes 0..3; sub-blocks 4..7 keep its low 4 bits in the low
 * nibbles of bytes 8..11 and its top 2 bits in the spare top bits of bytes 0..3. A number each, no pair: these run
 * for every 32 weights of a model, and an array per call was most of an import's garbage collection.
 */
export function scaleK4(bytes: Uint8Array, offset: number, index: number): number {
  if (index < 4) return (bytes[offset + index] as number) & 63
  return ((bytes[offset + index + 4] as number) & 0x0f) | (((bytes[offset + index - 4] as number) >> 6) << 4)
}

/** The 6-bit minimum of sub-block `index`, as `scaleK4`: bytes 4..7, or the high nibbles of 8..11 and bytes 4..7. */
export function minimumK4(bytes: Uint8Array, offset: number, index: number): number {
  if (index < 4) return (bytes[offset + index + 4] as number) & 63
  return ((bytes[offset + index + 4] as number) >> 4) | (((bytes[offset + index] as number) >> 6) << 4)
}

/** The sixteen signed 6-bit scales of a Q3_K super-block (each stored plus 32) from 12 bytes at `offset`. */
export function scalesQ3K(bytes: Uint8Array, offset: number, target: Int8Array): Int8Array {
  for (let index = 0; index < 16; index++) {
    const lowByte = bytes[offset + (index % 8)] as number
    const low = index < 8 ? lowByte & 0x0f : lowByte >> 4
    const high = ((bytes[offset + 8 + (index % 4)] as number) >> (2 * Math.floor(index / 4))) & 3
    target[index] = (low | (high << 4)) - 32
  }
  return target
}

export function dequantizeQ2_K(bytes: Uint8Array, elementCount: number, output?: Float32Array): Float32Array {
  return dequantizeBlocks(kQuant('Q2_K', 84), bytes, elementCount, output, (values, start, first) => {
    const scale = halfAt(bytes, start + 80)
    const minimumScale = halfAt(bytes, start + 82)
    for (let halfIndex = 0; halfIndex < 2; halfIndex++) {
      const quants = start + 16 + 32 * halfIndex
      for (let run = 0; run < 4; run++) {
        const shift = 2 * run
        for (let part = 0; part < 2; part++) {
          const packedScale = bytes[start + 8 * halfIndex + 2 * run + part] as number
          const step = scale * (packedScale & 0x0f)
          const offset = minimumScale * (packedScale >> 4)
          const base = first + 128 * halfIndex + 32 * run + 16 * part
          for (let l = 0; l < 16; l++) {
            values[base + l] = step * (((bytes[quants + 16 * part + l] as number) >> shift) & 3) - offset
          }
        }
      }
    }
  })
}

export function dequantizeQ3_K(bytes: Uint8Array, elementCount: number, output?: Float32Array): Float32Array {
  const scales = new Int8Array(16)
  return dequantizeBlocks(kQuant('Q3_K', 110), bytes, elementCount, output, (values, start, first) => {
    const scale = halfAt(bytes, start + 108)
    scalesQ3K(bytes, start + 96, scales)
    for (let halfIndex = 0; halfIndex < 2; halfIndex++) {
      const quants = start + 32 + 32 * halfIndex
      for (let run = 0; run < 4; run++) {
        const shift = 2 * run
        // The third bit of element (128 * halfIndex + 32 * run + l) is bit (4 * halfIndex + run) of hmask[l];
        // a clear bit means q - 4 (computed without a branch: the bits are as good as random).
        const bit = 4 * halfIndex + run
        for (let part = 0; part < 2; part++) {
          const step = scale * (scales[8 * halfIndex + 2 * run + part] as number)
          const base = first + 128 * halfIndex + 32 * run + 16 * part
          for (let l = 0; l < 16; l++) {
            const low = ((bytes[quants + 16 * part + l] as number) >> shift) & 3
            const high = ((bytes[start + 16 * part + l] as number) >> bit) & 1
            values[base + l] = step * (low + 4 * high - 4)
          }
        }
      }
    }
  })
}

/**
 * Q4_K and Q5_K: the steps and offsets of chunk `chunk` (0–3) of the super-block at `start`, whose low and high
 * nibbles are two 32-value sub-blocks with their own 6-bit scale and minimum under the block's float16 pair, into
 * `steps`: low step, low offset, high step, high offset (float64, so the products stay exact).
 */
function chunkStepsK4(bytes: Uint8Array, start: number, chunk: number, steps: Float64Array): void {
  const scale = halfAt(bytes, start)
  const minimumScale = halfAt(bytes, start + 2)
  steps[0] = scale * scaleK4(bytes, start + 4, 2 * chunk)
  steps[1] = minimumScale * minimumK4(bytes, start + 4, 2 * chunk)
  steps[2] = scale * scaleK4(bytes, start + 4, 2 * chunk + 1)
  steps[3] = minimumScale * minimumK4(bytes, start + 4, 2 * chunk + 1)
}

export function dequantizeQ4_K(bytes: Uint8Array, elementCount: number, output?: Float32Array): Float32Array {
  const steps = new Float64Array(4)
  return dequantizeBlocks(kQuant('Q4_K', 144), bytes, elementCount, output, (values, start, first) => {
    for (let chunk = 0; chunk < 4; chunk++) {
      chunkStepsK4(bytes, start, chunk, steps)
      const lowStep = steps[0] as number
      const lowOffset = steps[1] as number
      const highStep = steps[2] as number
      const highOffset = steps[3] as number
      const quants = start + 16 + 32 * chunk
      const base = first + 64 * chunk
      for (let l = 0; l < 32; l++) {
        const packed = bytes[quants + l] as number
        values[base + l] = lowStep * (packed & 0x0f) - lowOffset
        values[base + 32 + l] = highStep * (packed >> 4) - highOffset
      }
    }
  })
}

export function dequantizeQ5_K(bytes: Uint8Array, elementCount: number, output?: Float32Array): Float32Array {
  const steps = new Float64Array(4)
  return dequantizeBlocks(kQuant('Q5_K', 176), bytes, elementCount, output, (values, start, first) => {
    for (let chunk = 0; chunk < 4; chunk++) {
      chunkStepsK4(bytes, start, chunk, steps)
      const lowStep = steps[0] as number
      const lowOffset = steps[1] as number
      const highStep = steps[2] as number
      const highOffset = steps[3] as number
      const quants = start + 48 + 32 * chunk
      const base = first + 64 * chunk
      for (let l = 0; l < 32; l++) {
        const packed = bytes[quants + l] as number
        const high = (bytes[start + 16 + l] as number) >> (2 * chunk)
        values[base + l] = lowStep * ((packed & 0x0f) | ((high & 1) << 4)) - lowOffset
        values[base + 32 + l] = highStep * ((packed >> 4) | ((high & 2) << 3)) - highOffset
      }
    }
  })
}

export function dequantizeQ6_K(bytes: Uint8Array, elementCount: number, output?: Float32Array): Float32Array {
  const signed = signedBytes(bytes)
  return dequantizeBlocks(kQuant('Q6_K', 210), bytes, elementCount, output, (values, start, first) => {
    const scale = halfAt(bytes, start + 208)
    for (let halfIndex = 0; halfIndex < 2; halfIndex++) {
      const low = start + 64 * halfIndex
      const high = start + 128 + 32 * halfIndex
      const scales = start + 192 + 8 * halfIndex
      const base = first + 128 * halfIndex
      for (let l = 0; l < 32; l++) {
        const group = l >> 4
        const lowFirst = bytes[low + l] as number
        const lowSecond = bytes[low + l + 32] as number
        const highBits = bytes[high + l] as number
        const q1 = ((lowFirst & 0x0f) | ((highBits & 3) << 4)) - 32
        const q2 = ((lowSecond & 0x0f) | (((highBits >> 2) & 3) << 4)) - 32
        const q3 = ((lowFirst >> 4) | (((highBits >> 4) & 3) << 4)) - 32
        const q4 = ((lowSecond >> 4) | (((highBits >> 6) & 3) << 4)) - 32
        values[base + l] = scale * (signed[scales + group] as number) * q1
        values[base + l + 32] = scale * (signed[scales + group + 2] as number) * q2
        values[base + l + 64] = scale * (signed[scales + group + 4] as number) * q3
        values[base + l + 96] = scale * (signed[scales + group + 6] as number) * q4
      }
    }
  })
}
