import { describe, expect, it } from 'vitest'
import { floatToHalf, floatsToHalves, halfToFloat, halvesToFloats } from '../../src/shared/float16.ts'

/** Reference decoding straight from the IEEE 754 binary16 definition. */
function reference(bits: number): number {
  const sign = bits >> 15 ? -1 : 1
  const exponent = (bits >> 10) & 31
  const fraction = bits & 1023
  if (exponent === 31) return fraction ? NaN : sign * Infinity
  return exponent === 0
    ? sign * 2 ** -14 * (fraction / 1024)
    : sign * 2 ** (exponent - 15) * (1 + fraction / 1024)
}

describe('half precision', () => {
  it('decodes every bit pattern exactly and encodes it back', () => {
    const all = new Uint16Array(65536).map((_, index) => index)
    const decoded = halvesToFloats(all)
    const mismatches: number[] = []
    let nans = 0
    for (let bits = 0; bits < 65536; bits++) {
      const expected = reference(bits)
      if (Number.isNaN(expected)) {
        if (Number.isNaN(decoded[bits])) nans++
        else mismatches.push(bits)
        continue
      }
      if (decoded[bits] !== expected || halfToFloat(bits) !== expected || floatToHalf(expected) !== bits) {
        mismatches.push(bits)
      }
    }
    expect(mismatches).toEqual([])
    expect(nans).toBe(2 * 1023)
  })

  it('rounds to the nearest half, ties to even, with overflow to infinity', () => {
    expect(floatToHalf(1)).toBe(0x3c00)
    expect(floatToHalf(65504)).toBe(0x7bff)
    expect(floatToHalf(65520)).toBe(0x7c00)
    expect(floatToHalf(-2)).toBe(0xc000)
    // 1 + 2^-11 is halfway between 1 and 1 + 2^-10: ties go to the even mantissa (1).
    expect(floatToHalf(1 + 2 ** -11)).toBe(0x3c00)
    expect(floatToHalf(1 + 3 * 2 ** -11)).toBe(0x3c02)
    expect(floatToHalf(2 ** -25)).toBe(0)
    expect(floatToHalf(2 ** -24)).toBe(1)
    expect(Array.from(floatsToHalves([0.5, -0.25]))).toEqual([0x3800, 0xb400])
  })

  it('decodes a window into a reused buffer', () => {
    const target = new Float32Array(4).fill(7)
    halvesToFloats(Uint16Array.of(0x3c00, 0x4000, 0x4200, 0x4400), target, 1, 2, 1)
    expect(Array.from(target)).toEqual([7, 2, 3, 7])
  })
})
