import { halfToFloat } from '../../../../../shared/float16.ts'

/**
 * Dequantizers for the GGML block formats Tiller reads. Each takes the raw little-endian bytes of a tensor and
 * its element count and returns the values in storage order: `[elements]` -> Float32Array `[elements]`.
 *
 * Q8_0 block (34 bytes, 32 elements): float16 scale d, then 32 int8 q; value = q * d.
 * Q4_0 block (18 bytes, 32 elements): float16 scale d, then 16 bytes; byte j holds element j in its low nibble and
 * element j + 16 in its high nibble; value = (nibble - 8) * d.
 */

const blockSize = 32
const bfloat16Scratch = new DataView(new ArrayBuffer(4))

function checkLength(bytes: Uint8Array, elementCount: number, bytesPerBlock: number, format: string): void {
  if (elementCount % blockSize !== 0 || bytes.length !== (elementCount / blockSize) * bytesPerBlock) {
    throw new RangeError(`${format}: ${bytes.length} bytes cannot hold ${elementCount} elements`)
  }
}

/** Q8_0 bytes `[elements / 32 * 34]` -> float32 `[elements]`. */
export function dequantizeQ8_0(bytes: Uint8Array, elementCount: number): Float32Array {
  checkLength(bytes, elementCount, 34, 'Q8_0')
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  const values = new Float32Array(elementCount)
  for (let block = 0; block < elementCount / blockSize; block++) {
    const start = block * 34
    const scale = halfToFloat(view.getUint16(start, true))
    for (let index = 0; index < blockSize; index++) {
      values[block * blockSize + index] = view.getInt8(start + 2 + index) * scale
    }
  }
  return values
}

/** Q4_0 bytes `[elements / 32 * 18]` -> float32 `[elements]`. */
export function dequantizeQ4_0(bytes: Uint8Array, elementCount: number): Float32Array {
  checkLength(bytes, elementCount, 18, 'Q4_0')
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  const values = new Float32Array(elementCount)
  for (let block = 0; block < elementCount / blockSize; block++) {
    const start = block * 18
    const scale = halfToFloat(view.getUint16(start, true))
    const base = block * blockSize
    for (let index = 0; index < blockSize / 2; index++) {
      const packed = bytes[start + 2 + index] ?? 0
      values[base + index] = ((packed & 0x0f) - 8) * scale
      values[base + index + blockSize / 2] = ((packed >> 4) - 8) * scale
    }
  }
  return values
}

/** BF16 bit patterns `[elements]` -> float32 `[elements]` (exact). */
export function dequantizeBfloat16(bits: Uint16Array): Float32Array {
  const values = new Float32Array(bits.length)
  for (let index = 0; index < bits.length; index++) {
    // A bfloat16 is the upper half of a float32.
    bfloat16Scratch.setUint32(0, (bits[index] ?? 0) << 16)
    values[index] = bfloat16Scratch.getFloat32(0)
  }
  return values
}
