import { describe, expect, it } from 'vitest'

import {
  bfloat16BitsToFloat32,
  float16BitsToFloat32,
  float32ToFloat16Bits,
} from '../../src/main/core/gguf/float16.ts'
import {
  dequantizeBfloat16,
  dequantizeQ4_0,
  dequantizeQ8_0,
} from '../../src/main/core/models/importers/gguf/dequantize.ts'

describe('float16 conversions', () => {
  it('decodes hand-picked half bit patterns', () => {
    const cases: [number, number][] = [
      [0x3c00, 1],
      [0xc000, -2],
      [0x3800, 0.5],
      [0x7bff, 65504],
      [0x0001, 2 ** -24],
      [0x0400, 2 ** -14],
      [0x3555, 0.333251953125],
      [0x8000, -0],
      [0x7c00, Infinity],
    ]
    for (const [bits, value] of cases) expect(float16BitsToFloat32(bits)).toBe(value)
    expect(float16BitsToFloat32(0x7e00)).toBeNaN()
  })

  it('encodes with round-to-nearest-even, including subnormals and overflow', () => {
    expect(float32ToFloat16Bits(1)).toBe(0x3c00)
    expect(float32ToFloat16Bits(-2)).toBe(0xc000)
    expect(float32ToFloat16Bits(1 / 3)).toBe(0x3555)
    // 1 + 2^-11 is exactly halfway between 1 and the next half; ties go to the even mantissa (1).
    expect(float32ToFloat16Bits(1 + 2 ** -11)).toBe(0x3c00)
    expect(float32ToFloat16Bits(1 + 3 * 2 ** -11)).toBe(0x3c02)
    expect(float32ToFloat16Bits(2 ** -24)).toBe(0x0001)
    expect(float32ToFloat16Bits(2 ** -26)).toBe(0x0000)
    expect(float32ToFloat16Bits(3 * 2 ** -25)).toBe(0x0002)
    expect(float32ToFloat16Bits(70000)).toBe(0x7c00)
    expect(float32ToFloat16Bits(65519)).toBe(0x7bff)
    expect(float32ToFloat16Bits(-Infinity)).toBe(0xfc00)
  })

  it('round-trips every finite half bit pattern', () => {
    for (let bits = 0; bits < 0x10000; bits++) {
      if ((bits & 0x7c00) === 0x7c00) continue
      const back = float32ToFloat16Bits(float16BitsToFloat32(bits))
      if (back !== bits) throw new Error(`0x${bits.toString(16)} came back as 0x${back.toString(16)}`)
    }
  })

  it('decodes bfloat16 as the upper half of a float32', () => {
    expect(bfloat16BitsToFloat32(0x3f80)).toBe(1)
    expect(bfloat16BitsToFloat32(0xc040)).toBe(-3)
    expect(Array.from(dequantizeBfloat16(new Uint16Array([0x3f80, 0x4049, 0x0000])))).toEqual([
      1,
      Math.fround(3.140625),
      0,
    ])
  })
})

describe('block dequantizers', () => {
  it('Q8_0: value = int8 * float16 scale, block by block', () => {
    const bytes = new Uint8Array(68)
    const view = new DataView(bytes.buffer)
    view.setUint16(0, 0x3800, true) // scale 0.5
    for (let index = 0; index < 32; index++) view.setInt8(2 + index, index - 16)
    view.setUint16(34, 0xc000, true) // scale -2
    view.setInt8(36, 127)
    view.setInt8(37, -128)
    const values = dequantizeQ8_0(bytes, 64)
    expect(Array.from(values.subarray(0, 32))).toEqual(
      Array.from({ length: 32 }, (_, index) => (index - 16) * 0.5),
    )
    expect(values[32]).toBe(-254)
    expect(values[33]).toBe(256)
    expect(Array.from(values.subarray(34))).toEqual(new Array(30).fill(-0))
  })

  it('Q4_0: low nibbles are elements 0..15, high nibbles 16..31, value = (q - 8) * scale', () => {
    const bytes = new Uint8Array(18)
    const view = new DataView(bytes.buffer)
    view.setUint16(0, 0x4000, true) // scale 2
    bytes[2] = 0x0f // element 0 -> (15 - 8) * 2 = 14, element 16 -> (0 - 8) * 2 = -16
    bytes[3] = 0x98 // element 1 -> 0, element 17 -> 2
    bytes[17] = 0x71 // element 15 -> -14, element 31 -> -2
    const values = dequantizeQ4_0(bytes, 32)
    expect(values[0]).toBe(14)
    expect(values[16]).toBe(-16)
    expect(values[1]).toBe(0)
    expect(values[17]).toBe(2)
    expect(values[15]).toBe(-14)
    expect(values[31]).toBe(-2)
    // Untouched bytes are 0x00: both nibbles decode to (0 - 8) * 2.
    expect(values[2]).toBe(-16)
    expect(values[18]).toBe(-16)
  })

  it('rejects byte counts that do not match the element count', () => {
    expect(() => dequantizeQ8_0(new Uint8Array(33), 32)).toThrow(RangeError)
    expect(() => dequantizeQ4_0(new Uint8Array(18), 31)).toThrow(RangeError)
  })
})
