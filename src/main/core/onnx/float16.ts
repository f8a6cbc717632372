/**
 * IEEE 754 half-precision conversion. Node 20 has no Float16Array, so float16 tensors travel as Uint16Array bit
 * patterns (onnxruntime-node returns them that way too).
 */

const scratch = new DataView(new ArrayBuffer(4))

/** Round one float32 value to the nearest float16 bit pattern (ties to even; overflow gives ±Infinity). */
export function float32ToFloat16Bits(value: number): number {
  scratch.setFloat32(0, value)
  const bits = scratch.getUint32(0)
  const sign = (bits >>> 16) & 0x8000
  const exponent = (bits >>> 23) & 0xff
  const mantissa = bits & 0x7fffff
  if (exponent === 0xff) return sign | 0x7c00 | (mantissa === 0 ? 0 : 0x200)
  const halfExponent = exponent - 127 + 15
  if (halfExponent >= 0x1f) return sign | 0x7c00
  if (halfExponent <= 0) {
    // Subnormal half (or zero): shift the mantissa with its implicit leading one, rounding to nearest even.
    if (halfExponent < -10) return sign
    const full = mantissa | 0x800000
    const shift = 14 - halfExponent
    const truncated = full >>> shift
    const remainder = full & ((1 << shift) - 1)
    const halfway = 1 << (shift - 1)
    const roundUp = remainder > halfway || (remainder === halfway && (truncated & 1) === 1)
    return sign | (truncated + (roundUp ? 1 : 0))
  }
  const truncated = (halfExponent << 10) | (mantissa >>> 13)
  const remainder = mantissa & 0x1fff
  const roundUp = remainder > 0x1000 || (remainder === 0x1000 && (truncated & 1) === 1)
  // A carry out of the mantissa correctly bumps the exponent (and reaches Infinity at the top).
  return sign | (truncated + (roundUp ? 1 : 0))
}

/** The float value of one float16 bit pattern. */
export function float16BitsToFloat32(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1
  const exponent = (bits >>> 10) & 0x1f
  const mantissa = bits & 0x3ff
  if (exponent === 0) return sign * mantissa * 2 ** -24
  if (exponent === 0x1f) return mantissa === 0 ? sign * Infinity : NaN
  return sign * (1 + mantissa / 1024) * 2 ** (exponent - 15)
}

/** Convert float32 values to float16 bit patterns, element by element. */
export function toFloat16(values: Float32Array): Uint16Array {
  const result = new Uint16Array(values.length)
  for (let index = 0; index < values.length; index++) result[index] = float32ToFloat16Bits(values[index] ?? 0)
  return result
}

/** Convert float16 bit patterns to float32 values, element by element. */
export function fromFloat16(bits: Uint16Array): Float32Array {
  const result = new Float32Array(bits.length)
  for (let index = 0; index < bits.length; index++) result[index] = float16BitsToFloat32(bits[index] ?? 0)
  return result
}
