import { floatToHalf } from '../../../src/shared/float16.ts'

/**
 * Reference encoders for ggml's legacy 32-element blocks (the rounding of quantize_row_q{4_0,4_1,5_0,5_1,8_0}_ref),
 * used to write quantized test models. Input float32 `[elements]` (a multiple of 32) -> raw block bytes; layouts
 * in dequantize-legacy.ts.
 */

const blockSize = 32

function writeHalf(bytes: Uint8Array, offset: number, value: number): void {
  const bits = floatToHalf(value)
  bytes[offset] = bits & 0xff
  bytes[offset + 1] = bits >> 8
}

function blocksOf(values: Float32Array): number {
  if (values.length % blockSize !== 0) throw new Error(`${values.length} values are not whole blocks of 32`)
  return values.length / blockSize
}

/** The value of largest magnitude, keeping its sign (the first one on ties). */
function signedExtreme(values: Float32Array): number {
  let extreme = 0
  for (const value of values) if (Math.abs(value) > Math.abs(extreme)) extreme = value
  return extreme
}

/** Symmetric 4- or 5-bit blocks: the extreme maps to level 0 (value -8d or -16d), levels truncated from x/d + half + 0.5. */
function quantizeSymmetric(values: Float32Array, bits: 4 | 5): Uint8Array {
  const bytesPerBlock = bits === 4 ? 18 : 22
  const blocks = blocksOf(values)
  const bytes = new Uint8Array(blocks * bytesPerBlock)
  const middle = 1 << (bits - 1)
  for (let block = 0; block < blocks; block++) {
    const slice = values.subarray(block * blockSize, (block + 1) * blockSize)
    const start = block * bytesPerBlock
    const scale = signedExtreme(slice) / -middle
    const inverse = scale === 0 ? 0 : 1 / scale
    writeHalf(bytes, start, scale)
    const levels = Array.from(slice, (value) =>
      Math.min(2 * middle - 1, Math.trunc(value * inverse + middle + 0.5)),
    )
    packLevels(levels, bytes, start + 2, bits)
  }
  return bytes
}

/** Affine 4- or 5-bit blocks: d = (max - min) / levels, m = min, level = trunc((x - min) / d + 0.5). */
function quantizeAffine(values: Float32Array, bits: 4 | 5): Uint8Array {
  const bytesPerBlock = bits === 4 ? 20 : 24
  const blocks = blocksOf(values)
  const bytes = new Uint8Array(blocks * bytesPerBlock)
  const top = (1 << bits) - 1
  for (let block = 0; block < blocks; block++) {
    const slice = values.subarray(block * blockSize, (block + 1) * blockSize)
    const start = block * bytesPerBlock
    const minimum = Math.min(...slice)
    const scale = (Math.max(...slice) - minimum) / top
    const inverse = scale === 0 ? 0 : 1 / scale
    writeHalf(bytes, start, scale)
    writeHalf(bytes, start + 2, minimum)
    const levels = Array.from(slice, (value) => Math.min(top, Math.trunc((value - minimum) * inverse + 0.5)))
    packLevels(levels, bytes, start + 4, bits)
  }
  return bytes
}

/** Levels `[32]` -> (for 5 bits) a 32-bit little-endian fifth-bit word, then 16 bytes of nibbles. */
function packLevels(levels: number[], bytes: Uint8Array, offset: number, bits: 4 | 5): void {
  const nibbles = offset + (bits === 5 ? 4 : 0)
  for (let j = 0; j < 16; j++) {
    const low = levels[j] as number
    const high = levels[j + 16] as number
    bytes[nibbles + j] = (low & 0x0f) | ((high & 0x0f) << 4)
    if (bits === 5) {
      bytes[offset + (j >> 3)] = (bytes[offset + (j >> 3)] as number) | (((low >> 4) & 1) << (j & 7))
      bytes[offset + 2 + (j >> 3)] = (bytes[offset + 2 + (j >> 3)] as number) | (((high >> 4) & 1) << (j & 7))
    }
  }
}

/** float32 `[elements]` -> Q4_0 bytes `[elements / 32 * 18]`. */
export function quantizeQ4_0(values: Float32Array): Uint8Array {
  return quantizeSymmetric(values, 4)
}

/** float32 `[elements]` -> Q5_0 bytes `[elements / 32 * 22]`. */
export function quantizeQ5_0(values: Float32Array): Uint8Array {
  return quantizeSymmetric(values, 5)
}

/** float32 `[elements]` -> Q4_1 bytes `[elements / 32 * 20]`. */
export function quantizeQ4_1(values: Float32Array): Uint8Array {
  return quantizeAffine(values, 4)
}

/** float32 `[elements]` -> Q5_1 bytes `[elements / 32 * 24]`. */
export function quantizeQ5_1(values: Float32Array): Uint8Array {
  return quantizeAffine(values, 5)
}

/** float32 `[elements]` -> Q8_0 bytes `[elements / 32 * 34]`: d = max |x| / 127, q = round(x / d). */
export function quantizeQ8_0(values: Float32Array): Uint8Array {
  const blocks = blocksOf(values)
  const bytes = new Uint8Array(blocks * 34)
  const signed = new Int8Array(bytes.buffer)
  for (let block = 0; block < blocks; block++) {
    const slice = values.subarray(block * blockSize, (block + 1) * blockSize)
    const scale = Math.abs(signedExtreme(slice)) / 127
    const inverse = scale === 0 ? 0 : 1 / scale
    writeHalf(bytes, block * 34, scale)
    // C's roundf rounds halves away from zero.
    slice.forEach((value, index) => {
      const scaled = value * inverse
      signed[block * 34 + 2 + index] = Math.sign(scaled) * Math.round(Math.abs(scaled))
    })
  }
  return bytes
}
