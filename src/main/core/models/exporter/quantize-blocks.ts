import { halvesToFloats } from '../../../../shared/float16.ts'
import type { WeightTensor } from '../checkpoint.ts'

/**
 * HF Linear weights `[N = out, K = in]` → the inputs of com.microsoft MatMulNBits (block 32, with zero points):
 *   packed       uint8 `[N, K/32, 32·bits/8]`  quants along K, 4-bit pairs low nibble first
 *   scales       float32 `[N · K/32]`
 *   zeroPoints   uint8 `[N · ceil(K/32 · bits/8)]`  per row, 4-bit pairs low nibble first
 * so that weight[n, k] = scales[n, b] · (quant[n, k] − zeroPoint[n, b]) with b = floor(k / 32).
 *
 * A weight that carries offset-free blocks of 32 with at most `bits` bits (GGUF Q4_0 → q4, Q4_0/Q5_0/Q8_0 → q8)
 * is written exactly: the same scales, quants and zero point. Any other weight is requantized from its float
 * values, per block, asymmetrically over [min(x, 0), max(x, 0)] so that 0 stays exact; the largest absolute
 * difference to the float values is returned for the import's report.
 */

export const quantBlockSize = 32

export interface MatMulNBitsWeight {
  bits: 4 | 8
  /** out features */
  rows: number
  /** in features (a multiple of 32) */
  columns: number
  packed: Uint8Array
  scales: Float32Array
  zeroPoints: Uint8Array
  /** True when the blocks were copied, not requantized. */
  exact: boolean
  /** Largest |dequantized − float value| over the weight (0 when exact). */
  maximumError: number
}

/** quants `[rows · columns]` and per-block zero points `[rows · blocksPerRow]` → MatMulNBits' packed layouts. */
function pack(
  bits: 4 | 8,
  rows: number,
  columns: number,
  quants: Uint8Array,
  zeros: Uint8Array,
): { packed: Uint8Array; zeroPoints: Uint8Array } {
  if (bits === 8) return { packed: quants, zeroPoints: zeros }
  const packed = new Uint8Array(quants.length / 2)
  for (let at = 0; at < packed.length; at++) {
    packed[at] = ((quants[2 * at] as number) & 0x0f) | (((quants[2 * at + 1] as number) & 0x0f) << 4)
  }
  const blocksPerRow = columns / quantBlockSize
  const bytesPerRow = Math.ceil(blocksPerRow / 2)
  const zeroPoints = new Uint8Array(rows * bytesPerRow)
  for (let row = 0; row < rows; row++) {
    for (let block = 0; block < blocksPerRow; block++) {
      const zero = (zeros[row * blocksPerRow + block] as number) & 0x0f
      const at = row * bytesPerRow + (block >> 1)
      zeroPoints[at] = (zeroPoints[at] as number) | (block & 1 ? zero << 4 : zero)
    }
  }
  return { packed, zeroPoints }
}

/** Requantize float values `[rows · columns]` to `bits` per block of 32; returns quants, scales, zeros, error. */
function requantize(
  values: Float32Array,
  bits: 4 | 8,
): { quants: Uint8Array; scales: Float32Array; zeros: Uint8Array; maximumError: number } {
  const levels = (1 << bits) - 1
  const blocks = values.length / quantBlockSize
  const quants = new Uint8Array(values.length)
  const scales = new Float32Array(blocks)
  const zeros = new Uint8Array(blocks)
  let maximumError = 0
  for (let block = 0; block < blocks; block++) {
    const start = block * quantBlockSize
    let minimum = 0
    let maximum = 0
    for (let at = start; at < start + quantBlockSize; at++) {
      const value = values[at] as number
      if (value < minimum) minimum = value
      if (value > maximum) maximum = value
    }
    // An all-zero block keeps scale 1, zero point 0 and quants 0: exactly zero.
    const scale = maximum > minimum ? Math.fround((maximum - minimum) / levels) : 1
    const zero = Math.min(levels, Math.max(0, Math.round(-minimum / scale)))
    scales[block] = scale
    zeros[block] = zero
    for (let at = start; at < start + quantBlockSize; at++) {
      const value = values[at] as number
      const quant = Math.min(levels, Math.max(0, Math.round(value / scale) + zero))
      quants[at] = quant
      maximumError = Math.max(maximumError, Math.abs(Math.fround(scale * (quant - zero)) - value))
    }
  }
  return { quants, scales, zeros, maximumError }
}

/** `tensor` (an HF Linear weight `[out, in]`, in a multiple of 32) as MatMulNBits inputs with `bits` bits. */
export function quantizeLinearWeight(tensor: WeightTensor, bits: 4 | 8): MatMulNBitsWeight {
  const [rows, columns] = tensor.shape as [number, number]
  const { blocks } = tensor
  if (blocks !== undefined && blocks.groupSize === quantBlockSize && blocks.bits <= bits) {
    const zeros = new Uint8Array(blocks.scales.length).fill(blocks.zeroPoint)
    const { packed, zeroPoints } = pack(bits, rows, columns, blocks.quants, zeros)
    return { bits, rows, columns, packed, scales: blocks.scales, zeroPoints, exact: true, maximumError: 0 }
  }
  const values =
    tensor.dtype === 'float16' ? halvesToFloats(tensor.data as Uint16Array) : (tensor.data as Float32Array)
  const { quants, scales, zeros, maximumError } = requantize(values, bits)
  const { packed, zeroPoints } = pack(bits, rows, columns, quants, zeros)
  return { bits, rows, columns, packed, scales, zeroPoints, exact: false, maximumError }
}

/** The float values MatMulNBits computes with for `weight`: `[rows, columns]`, the reference for tests. */
export function dequantizeLinearWeight(weight: MatMulNBitsWeight): Float32Array {
  const { rows, columns, bits } = weight
  const blocksPerRow = columns / quantBlockSize
  const bytesPerRow = bits === 8 ? blocksPerRow : Math.ceil(blocksPerRow / 2)
  const values = new Float32Array(rows * columns)
  for (let at = 0; at < values.length; at++) {
    const row = Math.floor(at / columns)
    const block = Math.floor((at % columns) / quantBlockSize)
    const byte = weight.packed[bits === 8 ? at : at >> 1] as number
    const quant = bits === 8 ? byte : at & 1 ? byte >> 4 : byte & 0x0f
    const zeroByte = weight.zeroPoints[row * bytesPerRow + (bits === 8 ? block : block >> 1)] as number
    const zero = bits === 8 ? zeroByte : block & 1 ? zeroByte >> 4 : zeroByte & 0x0f
    values[at] = Math.fround((weight.scales[row * blocksPerRow + block] as number) * (quant - zero))
  }
  return values
}
