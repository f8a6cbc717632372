/**
 * IEEE 754 half precision and bfloat16 conversions on bit patterns, for GGUF F16/BF16 tensors and the float16
 * scales inside quantized blocks. Node 20 has no Float16Array, so these work on Uint16 bit patterns.
 */

const floatView = new Float32Array(1)
const bitsView = new Uint32Array(floatView.buffer)

/** The float32 value of one IEEE half bit pattern (exact: every half is a float32). */
export function float16BitsToFloat32(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1
  const exponent = (bits >> 10) & 0x1f
  const mantissa = bits & 0x3ff
  if (exponent === 0) return sign * mantissa * 2 ** -24
  if (exponent === 0x1f) return mantissa === 0 ? sign * Infinity : NaN
  return sign * (1 + mantissa / 1024) * 2 ** (exponent - 15)
}

/** The IEEE half bit pattern nearest to a number (round to nearest even; overflow goes to infinity). */
export function float32ToFloat16Bits(value: number): number {
  floatView[0] = value
  const bits = bitsView[0] ?? 0
  const sign = (bits >>> 16) & 0x8000
  const exponent = (bits >>> 23) & 0xff
  const mantissa = bits & 0x7fffff
  if (exponent === 0xff) return sign | 0x7c00 | (mantissa === 0 ? 0 : 0x200)
  // Re-bias the exponent from 127 to 15; below 1 the value becomes subnormal (or zero).
  const halfExponent = exponent - 127 + 15
  if (halfExponent >= 0x1f) return sign | 0x7c00
  if (halfExponent <= 0) {
    if (halfExponent < -10) return sign
    const fullMantissa = mantissa | 0x800000
    const shift = 14 - halfExponent
    const half = fullMantissa >>> shift
    const remainder = fullMantissa & ((1 << shift) - 1)
    const halfway = 1 << (shift - 1)
    const roundUp = remainder > halfway || (remainder === halfway && (half & 1) === 1)
    return sign | (half + (roundUp ? 1 : 0))
  }
  const half = (halfExponent << 10) | (mantissa >>> 13)
  const remainder = mantissa & 0x1fff
  const roundUp = remainder > 0x1000 || (remainder === 0x1000 && (half & 1) === 1)
  // A carry out of the mantissa correctly bumps the exponent (up to infinity).
  return sign | (half + (roundUp ? 1 : 0))
}

/** The float32 value of one bfloat16 bit pattern (the upper half of a float32). */
export function bfloat16BitsToFloat32(bits: number): number {
  bitsView[0] = (bits & 0xffff) << 16
  return floatView[0] ?? 0
}

/** Converts float32 values to half bit patterns. Shapes are preserved: `[n]` -> `[n]`. */
export function float32ArrayToFloat16Bits(values: Float32Array): Uint16Array {
  const result = new Uint16Array(values.length)
  for (let index = 0; index < values.length; index++) result[index] = float32ToFloat16Bits(values[index] ?? 0)
  return result
}

/** Converts half bit patterns to float32 values. Shapes are preserved: `[n]` -> `[n]`. */
export function float16BitsToFloat32Array(bits: Uint16Array): Float32Array {
  const result = new Float32Array(bits.length)
  for (let index = 0; index < bits.length; index++) result[index] = float16BitsToFloat32(bits[index] ?? 0)
  return result
}
