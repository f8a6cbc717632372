/**
 * IEEE 754 half precision (float16) <-> float32 conversion on bit patterns.
 *
 * Node 20 has no Float16Array, so ONNX Runtime hands float16 tensors over as Uint16Array bit patterns. Decoding goes
 * through a 65,536-entry table (256 KB, built on first use): one load per element, no branches.
 */

let halfTable: Float32Array | undefined

function decodeHalfBits(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1
  const exponent = (bits >> 10) & 0x1f
  const mantissa = bits & 0x3ff
  if (exponent === 0) return sign * mantissa * 2 ** -24
  if (exponent === 0x1f) return mantissa === 0 ? sign * Infinity : NaN
  return sign * (1 + mantissa / 1024) * 2 ** (exponent - 15)
}

function table(): Float32Array {
  if (halfTable === undefined) {
    halfTable = new Float32Array(65536)
    for (let bits = 0; bits < 65536; bits++) halfTable[bits] = decodeHalfBits(bits)
  }
  return halfTable
}

// Scratch views for reading a float32's bits without allocating per call.
const floatScratch = new Float32Array(1)
const bitsScratch = new Uint32Array(floatScratch.buffer)

/** The float32 value of one float16 bit pattern. */
export function halfToFloat(bits: number): number {
  return table()[bits & 0xffff] as number
}

/**
 * Decode `count` float16 values starting at `offset` of `source` into `target` (from `targetOffset`).
 * Returns `target` so callers can allocate once and reuse.
 */
export function halvesToFloats(
  source: Uint16Array,
  target: Float32Array = new Float32Array(source.length),
  offset = 0,
  count = source.length - offset,
  targetOffset = 0,
): Float32Array {
  const lookup = table()
  for (let index = 0; index < count; index++) {
    target[targetOffset + index] = lookup[source[offset + index] as number] as number
  }
  return target
}

/** The float16 bit pattern nearest to the float32 with bit pattern `bits` (see floatToHalf). */
function floatBitsToHalf(bits: number): number {
  const sign = (bits >>> 16) & 0x8000
  const exponent = (bits >>> 23) & 0xff
  let mantissa = bits & 0x7fffff
  if (exponent === 0xff) return sign | 0x7c00 | (mantissa === 0 ? 0 : 0x200)
  const halfExponent = exponent - 127 + 15
  if (halfExponent >= 0x1f) return sign | 0x7c00
  if (halfExponent <= 0) {
    // Subnormal half (or zero): shift the implicit leading one into the mantissa, then round.
    if (halfExponent < -10) return sign
    mantissa |= 0x800000
    const shift = 14 - halfExponent
    const halfMantissa = mantissa >>> shift
    const remainder = mantissa & ((1 << shift) - 1)
    const halfway = 1 << (shift - 1)
    const roundUp = remainder > halfway || (remainder === halfway && (halfMantissa & 1) === 1)
    return sign | (halfMantissa + (roundUp ? 1 : 0))
  }
  const halfMantissa = mantissa >>> 13
  const remainder = mantissa & 0x1fff
  const roundUp = remainder > 0x1000 || (remainder === 0x1000 && (halfMantissa & 1) === 1)
  // A carry out of the mantissa correctly bumps the exponent (and may reach infinity).
  return sign | ((halfExponent << 10) + halfMantissa + (roundUp ? 1 : 0))
}

/** The float16 bit pattern nearest to `value` (round to nearest, ties to even; overflow gives infinity). */
export function floatToHalf(value: number): number {
  floatScratch[0] = value
  return floatBitsToHalf(bitsScratch[0] as number)
}

/** Encode float32 values as float16 bit patterns. */
export function floatsToHalves(source: Float32Array | number[]): Uint16Array {
  const target = new Uint16Array(source.length)
  if (source instanceof Float32Array) {
    // Reading the bits through a Uint32 view of the same memory skips the per-value round trip through scratch.
    const words = new Uint32Array(source.buffer, source.byteOffset, source.length)
    for (let index = 0; index < words.length; index++) target[index] = floatBitsToHalf(words[index] as number)
    return target
  }
  for (let index = 0; index < source.length; index++) target[index] = floatToHalf(source[index] as number)
  return target
}
