import { describe, expect, it } from 'vitest'

import {
  dequantizeBfloat16,
  dequantizeQ4_0,
  dequantizeQ8_0,
} from '../../src/main/core/models/importers/gguf/dequantize.ts'

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

  it('BF16: each value is the upper half of a float32', () => {
    const values = dequantizeBfloat16(Uint16Array.from([0x3f80, 0xc040, 0x4049, 0x0000, 0x8000, 0x7f80]))
    expect(Array.from(values)).toEqual([1, -3, Math.fround(3.140625), 0, -0, Infinity])
  })

  it('rejects byte counts that do not match the element count', () => {
    expect(() => dequantizeQ8_0(new Uint8Array(33), 32)).toThrow(RangeError)
    expect(() => dequantizeQ4_0(new Uint8Array(18), 31)).toThrow(RangeError)
  })
})
