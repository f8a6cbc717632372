import { halfToFloat, floatToHalf } from '../../../src/shared/float16.ts'

/**
 * Reference GGML block quantizers (the rounding of ggml's quantize_row_q8_0_ref / quantize_row_q4_0_ref), used
 * to write quantized test models. Input `[elements]` (a multiple of 32) -> raw block bytes.
 */

const blockSize = 32

/** float32 `[elements]` -> Q8_0 bytes `[elements / 32 * 34]`. */
export function quantizeQ8_0(values: Float32Array): Uint8Array {
  const blocks = values.length / blockSize
  const bytes = new Uint8Array(blocks * 34)
  const view = new DataView(bytes.buffer)
  for (let block = 0; block < blocks; block++) {
    const slice = values.subarray(block * blockSize, (block + 1) * blockSize)
    const maximum = slice.reduce((best, value) => Math.max(best, Math.abs(value)), 0)
    const scale = maximum / 127
    const inverse = scale === 0 ? 0 : 1 / scale
    view.setUint16(block * 34, floatToHalf(scale), true)
    slice.forEach((value, index) => view.setInt8(block * 34 + 2 + index, Math.round(value * inverse)))
  }
  return bytes
}

/** float32 `[elements]` -> Q4_0 bytes `[elements / 32 * 18]`. */
export function quantizeQ4_0(values: Float32Array): Uint8Array {
  const blocks = values.length / blockSize
  const bytes = new Uint8Array(blocks * 18)
  const view = new DataView(bytes.buffer)
  for (let block = 0; block < blocks; block++) {
    const slice = values.subarray(block * blockSize, (block + 1) * blockSize)
    // The signed value of largest magnitude maps to -8, so the full range [-8, 7] is used.
    const extreme = slice.reduce((best, value) => (Math.abs(value) > Math.abs(best) ? value : best), 0)
    const scale = extreme / -8
    const inverse = scale === 0 ? 0 : 1 / scale
    view.setUint16(block * 18, floatToHalf(scale), true)
    const quantized = Array.from(slice, (value) => Math.min(15, Math.trunc(value * inverse + 8.5)))
    for (let index = 0; index < blockSize / 2; index++) {
      bytes[block * 18 + 2 + index] = (quantized[index] ?? 0) | ((quantized[index + blockSize / 2] ?? 0) << 4)
    }
  }
  return bytes
}

/** The largest error each block may carry after quantization: `[elements]` -> `[elements / 32]`. */
export function blockErrorBounds(bytes: Uint8Array, bytesPerBlock: number, stepsOfError: number): number[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  return Array.from({ length: bytes.length / bytesPerBlock }, (_, block) => {
    const scale = Math.abs(halfToFloat(view.getUint16(block * bytesPerBlock, true)))
    // The float16 rounding of the scale adds up to 2^-11 relative error on each of up to 8 (or 127) steps.
    return scale * stepsOfError + scale * 128 * 2 ** -11
  })
}
