import { describe, expect, it } from 'vitest'

import {
  dequantizeQ4_1,
  dequantizeQ5_0,
  dequantizeQ5_1,
} from '../../src/main/core/models/importers/gguf/dequantize-legacy.ts'
import {
  dequantizeQ2_K,
  dequantizeQ3_K,
  dequantizeQ4_K,
  dequantizeQ5_K,
  dequantizeQ6_K,
} from '../../src/main/core/models/importers/gguf/dequantize-k.ts'
import {
  dequantizeIQ4_NL,
  dequantizeIQ4_XS,
} from '../../src/main/core/models/importers/gguf/dequantize-iq.ts'

/**
 * One hand-made block per type: chosen float16 scales, integer sub-block scales/mins and quants are placed at the
 * bit positions ggml-common.h defines, element by element (byte and bit of element i written out here, not taken
 * from the decoder's loops), and each decoded value must equal the formula for that element exactly.
 */

// Float16 bit patterns of exact values.
const half = { 0.5: 0x3800, 0.25: 0x3400, 2: 0x4000, [-1.5]: 0xbe00, 0.125: 0x3000, 3: 0x4200 } as const

function setHalf(bytes: Uint8Array, offset: number, bits: number): void {
  bytes[offset] = bits & 0xff
  bytes[offset + 1] = bits >> 8
}

/** Sets `width` bits of `value` at bit `bit` of byte `offset` (bits not yet set). */
function setBits(bytes: Uint8Array, offset: number, bit: number, value: number): void {
  bytes[offset] = (bytes[offset] as number) | (value << bit)
}

/** A spread of quant levels in 0..levels-1 that hits both ends. */
function quantOf(index: number, levels: number): number {
  return (index * 7 + 3) % levels
}

function expectExact(actual: Float32Array, expected: (index: number) => number): void {
  const wanted = Float32Array.from({ length: actual.length }, (_, index) => expected(index))
  expect(Array.from(actual)).toEqual(Array.from(wanted))
}

describe('legacy 32-element blocks, by hand', () => {
  it('Q4_1: value = q * d + m, element j in the low nibble of byte 4 + j, element j + 16 in its high nibble', () => {
    const bytes = new Uint8Array(20)
    setHalf(bytes, 0, half[0.5])
    setHalf(bytes, 2, half[-1.5])
    for (let i = 0; i < 32; i++) setBits(bytes, 4 + (i % 16), i < 16 ? 0 : 4, quantOf(i, 16))
    const values = dequantizeQ4_1(bytes, 32)
    expectExact(values, (i) => quantOf(i, 16) * 0.5 - 1.5)
    expect(values[0]).toBe(3 * 0.5 - 1.5)
    expect(values[16]).toBe(((16 * 7 + 3) % 16) * 0.5 - 1.5)
  })

  it('Q5_0 / Q5_1: the fifth bit of element i is bit i of the little-endian word qh', () => {
    const q5 = (i: number) => quantOf(i, 32)
    const symmetric = new Uint8Array(22)
    const affine = new Uint8Array(24)
    setHalf(symmetric, 0, half[0.25])
    setHalf(affine, 0, half[0.25])
    setHalf(affine, 2, half[2])
    for (let i = 0; i < 32; i++) {
      setBits(symmetric, 2 + (i >> 3), i & 7, q5(i) >> 4)
      setBits(symmetric, 6 + (i % 16), i < 16 ? 0 : 4, q5(i) & 15)
      setBits(affine, 4 + (i >> 3), i & 7, q5(i) >> 4)
      setBits(affine, 8 + (i % 16), i < 16 ? 0 : 4, q5(i) & 15)
    }
    expectExact(dequantizeQ5_0(symmetric, 32), (i) => (q5(i) - 16) * 0.25)
    expectExact(dequantizeQ5_1(affine, 32), (i) => q5(i) * 0.25 + 2)
    expect(q5(17)).toBe(26) // a level with its fifth bit set, in the upper half of the block
    expect(dequantizeQ5_0(symmetric, 32)[17]).toBe(2.5)
  })
})

describe('K-quant super-blocks, by hand', () => {
  it('Q2_K: 16 sub-blocks of 16 with 4-bit scale and min; element i in bits 2 * run of qs[32 * half + l]', () => {
    const bytes = new Uint8Array(84)
    const scales = Array.from({ length: 16 }, (_, j) => (j * 5 + 1) % 16)
    const mins = Array.from({ length: 16 }, (_, j) => (j * 3 + 2) % 16)
    scales.forEach((scale, j) => (bytes[j] = scale | ((mins[j] as number) << 4)))
    for (let i = 0; i < 256; i++) {
      const within = i % 128
      setBits(
        bytes,
        16 + 32 * Math.floor(i / 128) + (within % 32),
        2 * Math.floor(within / 32),
        quantOf(i, 4),
      )
    }
    setHalf(bytes, 80, half[0.5])
    setHalf(bytes, 82, half[0.125])
    const j = (i: number) => Math.floor(i / 16)
    expectExact(
      dequantizeQ2_K(bytes, 256),
      (i) => 0.5 * (scales[j(i)] as number) * quantOf(i, 4) - 0.125 * (mins[j(i)] as number),
    )
    // Element 0: scale 1, min 2, q 3 -> 0.5 * 1 * 3 - 0.125 * 2.
    expect(dequantizeQ2_K(bytes, 256)[0]).toBe(1.25)
  })

  it('Q3_K: signed 6-bit scales split into nibbles and 2-bit tops, third quant bit in hmask[i % 32] bit i / 32', () => {
    const bytes = new Uint8Array(110)
    const scales = Array.from({ length: 16 }, (_, j) => ((j * 9 + 4) % 64) - 32) // -32..31
    for (let j = 0; j < 16; j++) {
      const stored = (scales[j] as number) + 32
      setBits(bytes, 96 + (j % 8), j < 8 ? 0 : 4, stored & 15)
      setBits(bytes, 104 + (j % 4), 2 * Math.floor(j / 4), stored >> 4)
    }
    for (let i = 0; i < 256; i++) {
      const q = quantOf(i, 8)
      const within = i % 128
      setBits(bytes, 32 + 32 * Math.floor(i / 128) + (within % 32), 2 * Math.floor(within / 32), q & 3)
      setBits(bytes, i % 32, Math.floor(i / 32), q >> 2)
    }
    setHalf(bytes, 108, half[0.25])
    expectExact(
      dequantizeQ3_K(bytes, 256),
      (i) => 0.25 * (scales[Math.floor(i / 16)] as number) * (quantOf(i, 8) - 4),
    )
    // Element 0: scale 4 - 32 = -28, q 3 -> 0.25 * -28 * (3 - 4).
    expect(dequantizeQ3_K(bytes, 256)[0]).toBe(7)
  })

  /** get_scale_min_k4's packing of eight 6-bit scales and mins into 12 bytes at `offset`. */
  function packScalesAndMins(bytes: Uint8Array, offset: number, scales: number[], mins: number[]): void {
    for (let j = 0; j < 4; j++) {
      bytes[offset + j] = (scales[j] as number) | (((scales[j + 4] as number) >> 4) << 6)
      bytes[offset + j + 4] = (mins[j] as number) | (((mins[j + 4] as number) >> 4) << 6)
      bytes[offset + j + 8] = ((scales[j + 4] as number) & 15) | (((mins[j + 4] as number) & 15) << 4)
    }
  }

  const scales = [1, 2, 3, 63, 17, 33, 48, 5]
  const mins = [0, 1, 62, 7, 20, 40, 63, 9]

  it('Q4_K: eight 32-element sub-blocks, 6-bit scales and mins, sub-block 2c in low nibbles of qs[32c..]', () => {
    const bytes = new Uint8Array(144)
    setHalf(bytes, 0, half[0.5])
    setHalf(bytes, 2, half[0.25])
    packScalesAndMins(bytes, 4, scales, mins)
    for (let i = 0; i < 256; i++) {
      const sub = Math.floor(i / 32)
      setBits(bytes, 16 + 32 * Math.floor(sub / 2) + (i % 32), 4 * (sub % 2), quantOf(i, 16))
    }
    const sub = (i: number) => Math.floor(i / 32)
    expectExact(
      dequantizeQ4_K(bytes, 256),
      (i) => 0.5 * (scales[sub(i)] as number) * quantOf(i, 16) - 0.25 * (mins[sub(i)] as number),
    )
    // Element 224 (sub-block 7: scale 5, min 9, q (224 * 7 + 3) % 16 = 3): 0.5 * 5 * 3 - 0.25 * 9.
    expect(dequantizeQ4_K(bytes, 256)[224]).toBe(5.25)
  })

  it('Q5_K: as Q4_K, with the fifth bit of element i at bit i / 32 of qh[i % 32]', () => {
    const bytes = new Uint8Array(176)
    setHalf(bytes, 0, half[0.125])
    setHalf(bytes, 2, half[0.5])
    packScalesAndMins(bytes, 4, scales, mins)
    for (let i = 0; i < 256; i++) {
      const sub = Math.floor(i / 32)
      const q = quantOf(i, 32)
      setBits(bytes, 48 + 32 * Math.floor(sub / 2) + (i % 32), 4 * (sub % 2), q & 15)
      setBits(bytes, 16 + (i % 32), sub, q >> 4)
    }
    const sub = (i: number) => Math.floor(i / 32)
    expectExact(
      dequantizeQ5_K(bytes, 256),
      (i) => 0.125 * (scales[sub(i)] as number) * quantOf(i, 32) - 0.5 * (mins[sub(i)] as number),
    )
  })

  it('Q6_K: 16 int8 scales; low nibbles in ql, top 2 bits in qh, value = d * scale * (q - 32)', () => {
    const bytes = new Uint8Array(210)
    const int8Scales = Array.from({ length: 16 }, (_, j) => ((j * 37) % 256) - 128) // -128..127
    int8Scales.forEach((scale, j) => (bytes[192 + j] = scale & 0xff))
    for (let i = 0; i < 256; i++) {
      const q = quantOf(i, 64)
      const halfIndex = Math.floor(i / 128)
      const run = Math.floor((i % 128) / 32)
      const l = i % 32
      setBits(bytes, 64 * halfIndex + l + 32 * (run % 2), run < 2 ? 0 : 4, q & 15)
      setBits(bytes, 128 + 32 * halfIndex + l, 2 * run, q >> 4)
    }
    setHalf(bytes, 208, half[3])
    expectExact(
      dequantizeQ6_K(bytes, 256),
      (i) => 3 * (int8Scales[Math.floor(i / 16)] as number) * (quantOf(i, 64) - 32),
    )
    // Element 0: scale -128, q 3 -> 3 * -128 * (3 - 32).
    expect(dequantizeQ6_K(bytes, 256)[0]).toBe(11136)
  })
})

describe('non-linear 4-bit blocks, by hand', () => {
  const codebook = [-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113]

  it('IQ4_NL: value = d * codebook[q], nibbles placed as in Q4_0', () => {
    const bytes = new Uint8Array(18)
    setHalf(bytes, 0, half[0.125])
    for (let i = 0; i < 32; i++) setBits(bytes, 2 + (i % 16), i < 16 ? 0 : 4, quantOf(i, 16))
    expectExact(dequantizeIQ4_NL(bytes, 32), (i) => 0.125 * (codebook[quantOf(i, 16)] as number))
    expect(dequantizeIQ4_NL(bytes, 32)[0]).toBe(0.125 * -65)
  })

  it('IQ4_XS: 6-bit sub-block scales (low nibbles in scales_l, top 2 bits in scales_h), minus 32', () => {
    const bytes = new Uint8Array(136)
    setHalf(bytes, 0, half[0.25])
    const subScales = [0, 63, 32, 31, 1, 45, 16, 50] // stored values; the scale is stored - 32
    let high = 0
    subScales.forEach((stored, sub) => {
      setBits(bytes, 4 + (sub >> 1), 4 * (sub % 2), stored & 15)
      high |= (stored >> 4) << (2 * sub)
    })
    setHalf(bytes, 2, high)
    for (let i = 0; i < 256; i++) {
      const within = i % 32
      setBits(bytes, 8 + 16 * Math.floor(i / 32) + (within % 16), within < 16 ? 0 : 4, quantOf(i, 16))
    }
    expectExact(
      dequantizeIQ4_XS(bytes, 256),
      (i) => 0.25 * ((subScales[Math.floor(i / 32)] as number) - 32) * (codebook[quantOf(i, 16)] as number),
    )
  })
})

describe('block length checks', () => {
  it.each([
    ['Q4_K', dequantizeQ4_K, 144],
    ['Q6_K', dequantizeQ6_K, 210],
    ['IQ4_XS', dequantizeIQ4_XS, 136],
  ] as const)('%s refuses bytes that do not hold the element count', (_, dequantize, bytesPerBlock) => {
    expect(() => dequantize(new Uint8Array(bytesPerBlock), 128)).toThrow(RangeError)
    expect(() => dequantize(new Uint8Array(bytesPerBlock - 1), 256)).toThrow(RangeError)
    expect(dequantize(new Uint8Array(2 * bytesPerBlock), 512)).toHaveLength(512)
  })
})
