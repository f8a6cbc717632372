import { halfAt } from './block-bytes.ts'
import { dequantizeBlocks } from './block-loop.ts'

/**
 * Dequantizers for ggml's non-linear 4-bit types, which index a fixed 16-value codebook (kvalues_iq4nl, spaced
 * more finely near zero, where trained weights crowd) instead of evenly spaced levels:
 *
 *   IQ4_NL  18 bytes per 32 elements: d @0, qs[16] @2 (nibbles as in Q4_0).   value = d * codebook[q]
 *   IQ4_XS 136 bytes per 256 elements: d @0, scales_h (uint16) @2, scales_l[4] @4, qs[128] @8. Each 32-element
 *           sub-block b has a 6-bit scale: low 4 bits in nibble (b % 2) of scales_l[b / 2], high 2 bits at bit
 *           2b of scales_h, offset by 32.                                   value = d * (scale - 32) * codebook[q]
 *
 * Products are exact before the single float32 rounding on the store, matching ggml bit for bit.
 */

/** The IQ4_NL / IQ4_XS codebook (ggml's kvalues_iq4nl). */
export const iq4Codebook: Int8Array = Int8Array.from([
  -127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113,
])

/** IQ4_NL bytes `[elements / 32 * 18]` -> float32 `[elements]`. */
export function dequantizeIQ4_NL(
  bytes: Uint8Array,
  elementCount: number,
  output?: Float32Array,
): Float32Array {
  const layout = { name: 'IQ4_NL', elementsPerBlock: 32, bytesPerBlock: 18 }
  return dequantizeBlocks(layout, bytes, elementCount, output, (values, start, base) => {
    const scale = halfAt(bytes, start)
    for (let j = 0; j < 16; j++) {
      const packed = bytes[start + 2 + j] as number
      values[base + j] = scale * (iq4Codebook[packed & 0x0f] as number)
      values[base + j + 16] = scale * (iq4Codebook[packed >> 4] as number)
    }
  })
}

/** IQ4_XS bytes `[elements / 256 * 136]` -> float32 `[elements]`. */
export function dequantizeIQ4_XS(
  bytes: Uint8Array,
  elementCount: number,
  output?: Float32Array,
): Float32Array {
  const layout = { name: 'IQ4_XS', elementsPerBlock: 256, bytesPerBlock: 136 }
  return dequantizeBlocks(layout, bytes, elementCount, output, (values, start, first) => {
    const scale = halfAt(bytes, start)
    const highScales = (bytes[start + 2] as number) | ((bytes[start + 3] as number) << 8)
    for (let sub = 0; sub < 8; sub++) {
      const low = ((bytes[start + 4 + (sub >> 1)] as number) >> (4 * (sub & 1))) & 0x0f
      const high = (highScales >> (2 * sub)) & 3
      const step = scale * ((low | (high << 4)) - 32)
      const quants = start + 8 + 16 * sub
      const base = first + 32 * sub
      for (let j = 0; j < 16; j++) {
        const packed = bytes[quants + j] as number
        values[base + j] = step * (iq4Codebook[packed & 0x0f] as number)
        values[base + j + 16] = step * (iq4Codebook[packed >> 4] as number)
      }
    }
  })
}
