import { endianness } from 'node:os'
import { halvesToFloats } from '../../../../shared/float16.ts'
import type { WeightBlocks, WeightTensor } from '../checkpoint.ts'
import { statisticsPerBlock } from './block-kernels.ts'
import { runBlockKernel, runHere } from './block-workers.ts'
import { fitZeroPoints } from './fitted-zero-points.ts'

/**
 * HF Linear weights `[N = out, K = in]` → the inputs of com.microsoft MatMulNBits (block 32, with zero points):
 *   packed       uint8 `[N, K/32, 32·bits/8]`  quants along K, 4-bit pairs low nibble first
 *   scales       float32 `[N · K/32]`
 *   zeroPoints   uint8 `[N · ceil(K/32 · bits/8)]`  per row, 4-bit pairs low nibble first
 * so that weight[n, k] = scales[n, b] · (quant[n, k] − zeroPoint[n, b]) with b = floor(k / 32).
 *
 * A weight that carries offset-free blocks of 32 with at most `bits` bits (GGUF Q4_0 → q4, Q4_0/Q5_0/Q8_0 → q8)
 * is written exactly: the same scales, quants and zero point. Blocks with per-group offsets (Q4_1, Q5_1, Q4_K,
 * Q5_K: value = s·q + o) keep their quants and scales with a float zero point −o/s, which MatMulNBits accepts
 * (float32 zero_points); that differs from s·q + o by float rounding only. Any other weight is requantized from its
 * float values, per block, asymmetrically over [min(x, 0), max(x, 0)] so that 0 stays exact. The largest absolute
 * difference to the float values is returned for the import's report.
 *
 * Float zero points are written only when the caller allows them (`floatZeroPoints`): ONNX Runtime 1.30's CPU
 * MatMulNBits computes them on its slow unpacked path only, ignores int8 compute (accuracy_level 4) for them, and
 * refuses them with 8 bits ("Only 2b and 4b quantization is supported for unpacked compute"). Without them, blocks
 * with offsets are written at 4 bits from their values with fitted integer zero points (fitted-zero-points.ts), or
 * at 8 bits with their quants kept and integer zero points (integerZeroPoints), as exporter/weights.ts chooses.
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
  /** uint8 packed as above, or float32 `[N · K/32]` for blocks with offsets (zero point = −offset / scale). */
  zeroPoints: Uint8Array | Float32Array
  /**
   * How the weight was written: blocks copied (exact or with float zero points), requantized, or (blocks with
   * offsets at 4 bits with integer zero points) requantized with fitted zero points.
   */
  source: 'exact' | 'offsets' | 'requantized' | 'fitted'
  /** Largest |dequantized − float value| over the weight (0 when exact). */
  maximumError: number
  /** Fitted weights: Σ (dequantized − float value)² and Σ float value², for the relative RMS difference. */
  squaredError?: number
  squaredValues?: number
}

/** Whether 32-bit words read bytes lowest first (every platform Tiller ships for; checked, not assumed). */
const littleEndian = endianness() === 'LE'

/**
 * Pairs of 4-bit quants as bytes, the first in the low nibble: `[n]` → `[n / 2]`. Four quants a step through 32-bit
 * words where the buffers allow it (a little-endian machine, aligned quants): a byte at a time took 4 s of a 0.62 GB
 * Q4_K import.
 */
function packNibbles(quants: Uint8Array): Uint8Array {
  const packed = new Uint8Array(quants.length / 2)
  let at = 0
  if (littleEndian && quants.byteOffset % 4 === 0) {
    const words = new Uint32Array(quants.buffer, quants.byteOffset, quants.length >> 2)
    const pairs = new Uint16Array(packed.buffer, 0, words.length)
    for (let word = 0; word < words.length; word++) {
      // bytes q₀ q₁ q₂ q₃ (q₀ lowest) → (q₀ | q₁ << 4) | (q₂ | q₃ << 4) << 8
      const value = words[word] as number
      pairs[word] =
        (value & 0x0f) | ((value >>> 4) & 0xf0) | ((value >>> 8) & 0x0f00) | ((value >>> 12) & 0xf000)
    }
    at = words.length * 2
  }
  for (; at < packed.length; at++)
    packed[at] = ((quants[2 * at] as number) & 0x0f) | (((quants[2 * at + 1] as number) & 0x0f) << 4)
  return packed
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
  const packed = packNibbles(quants)
  const blocksPerRow = columns / quantBlockSize
  // An even number of blocks a row: the rows' zero points pair up as one run of nibbles.
  if (blocksPerRow % 2 === 0) return { packed, zeroPoints: packNibbles(zeros) }
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

interface BlockQuants {
  quants: Uint8Array
  scales: Float32Array
  zeros: Uint8Array
  maximumError: number
}

/**
 * Requantize block `block` of float `values` into `into` with `levels + 1` levels (block-kernels.ts
 * requantizeBlocks); returns the block's largest difference.
 */
function requantizeBlock(values: Float32Array, block: number, levels: number, into: BlockQuants): number {
  const statistics = new Float64Array(statisticsPerBlock)
  runHere('requantize', levels, values, into, statistics, block, 1)
  return statistics[2] as number
}

function emptyBlockQuants(elements: number): BlockQuants {
  const blocks = elements / quantBlockSize
  return {
    quants: new Uint8Array(elements),
    scales: new Float32Array(blocks),
    zeros: new Uint8Array(blocks),
    maximumError: 0,
  }
}

/** Requantize float values `[rows · columns]` to `bits` per block of 32 (on worker threads: block-workers.ts). */
function requantize(values: Float32Array, bits: 4 | 8): BlockQuants {
  return runBlockKernel('requantize', values, (1 << bits) - 1)
}

/**
 * Blocks with offsets (value = s·(q − z) + o, q with `blocks.bits` bits) as `bits`-bit blocks with integer zero
 * points, keeping their quants: with m = 2^(bits − blocks.bits), value = (s/m)·(m·q + c − z′) where
 * z′ = c + m·z − m·o/s is rounded to an integer and c ∈ [0, m) shifts it into range, so each weight moves by at
 * most s/(2m), a constant per block (half a step at the same width, 1/32 of one from 4 to 8 bits). A block whose
 * z′ fits no range (offset far from its values, or scale 0) is requantized from its values.
 */
function integerZeroPoints(
  blocks: WeightBlocks,
  offsets: Float32Array,
  values: Float32Array,
  bits: 4 | 8,
): BlockQuants {
  const result = emptyBlockQuants(values.length)
  const levels = (1 << bits) - 1
  const multiplier = 1 << (bits - blocks.bits)
  for (let block = 0; block < result.scales.length; block++) {
    const scale = blocks.scales[block] as number
    const exactZero = multiplier * blocks.zeroPoint - (multiplier * (offsets[block] as number)) / scale
    const shift = Math.min(multiplier - 1, Math.max(0, -Math.round(exactZero)))
    const zero = Math.round(exactZero) + shift
    if (scale === 0 || !Number.isFinite(exactZero) || zero < 0 || zero > levels) {
      result.maximumError = Math.max(result.maximumError, requantizeBlock(values, block, levels, result))
      continue
    }
    const step = Math.fround(scale / multiplier)
    result.scales[block] = step
    result.zeros[block] = zero
    const start = block * quantBlockSize
    for (let at = start; at < start + quantBlockSize; at++) {
      const quant = multiplier * (blocks.quants[at] as number) + shift
      result.quants[at] = quant
      const error = Math.abs(Math.fround(step * (quant - zero)) - (values[at] as number))
      result.maximumError = Math.max(result.maximumError, error)
    }
  }
  return result
}

/**
 * `tensor` (an HF Linear weight `[out, in]`, in a multiple of 32) as MatMulNBits inputs with `bits` bits.
 * @param floatZeroPoints whether blocks with offsets may keep their quants with float zero points (else fitted at 4
 * bits, quants kept at 8)
 * @param sourceOffsets whether the source's blocks have offsets, known from its type even when a band arrives
 * without its decoded groups
 */
export function quantizeLinearWeight(
  tensor: WeightTensor,
  bits: 4 | 8,
  floatZeroPoints: boolean,
  sourceOffsets = tensor.blocks?.offsets !== undefined,
): MatMulNBitsWeight {
  const [rows, columns] = tensor.shape as [number, number]
  const { blocks } = tensor
  // Read only where a branch needs the float values: blocks copied exactly never compute them (tensor-data.ts).
  let floats: Float32Array | undefined
  const values = (): Float32Array =>
    (floats ??=
      tensor.dtype === 'float16' ? halvesToFloats(tensor.data as Uint16Array) : (tensor.data as Float32Array))
  if (sourceOffsets && bits === 4 && !floatZeroPoints) {
    const fitted = fitZeroPoints(values())
    const { packed, zeroPoints } = pack(4, rows, columns, fitted.quants, fitted.zeros)
    const { scales, maximumError, squaredError, squaredValues } = fitted
    const weight = { bits, rows, columns, packed, scales, zeroPoints, maximumError }
    return { ...weight, source: 'fitted', squaredError, squaredValues }
  }
  if (blocks !== undefined && blocks.groupSize === quantBlockSize && blocks.bits <= bits) {
    const zeros = new Uint8Array(blocks.scales.length).fill(blocks.zeroPoint)
    const { packed, zeroPoints } = pack(bits, rows, columns, blocks.quants, zeros)
    const { offsets } = blocks
    if (offsets === undefined) {
      return {
        bits,
        rows,
        columns,
        packed,
        scales: blocks.scales,
        zeroPoints,
        source: 'exact',
        maximumError: 0,
      }
    }
    // A group with scale 0 holds its offset alone, which no zero point can express: requantize those weights.
    if (floatZeroPoints && blocks.scales.every((scale) => scale !== 0)) {
      const floatZeros = Float32Array.from(
        offsets,
        (offset, group) => -offset / (blocks.scales[group] as number),
      )
      const weight: MatMulNBitsWeight = {
        bits,
        rows,
        columns,
        packed,
        scales: blocks.scales,
        zeroPoints: floatZeros,
        source: 'offsets',
        maximumError: 0,
      }
      const back = dequantizeLinearWeight(weight)
      const floatValues = values()
      weight.maximumError = back.reduce(
        (worst, value, at) => Math.max(worst, Math.abs(value - (floatValues[at] as number))),
        0,
      )
      return weight
    }
    if (!floatZeroPoints) {
      const { quants, scales, zeros, maximumError } = integerZeroPoints(blocks, offsets, values(), bits)
      const { packed: packedQuants, zeroPoints: packedZeros } = pack(bits, rows, columns, quants, zeros)
      const weight = { bits, rows, columns, packed: packedQuants, scales, zeroPoints: packedZeros }
      return { ...weight, source: 'requantized', maximumError }
    }
  }
  const { quants, scales, zeros, maximumError } = requantize(values(), bits)
  const { packed, zeroPoints } = pack(bits, rows, columns, quants, zeros)
  return { bits, rows, columns, packed, scales, zeroPoints, source: 'requantized', maximumError }
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
    const scale = weight.scales[row * blocksPerRow + block] as number
    if (weight.zeroPoints instanceof Float32Array) {
      // ONNX Runtime subtracts in float32, then scales.
      const zero = weight.zeroPoints[row * blocksPerRow + block] as number
      values[at] = Math.fround(Math.fround(quant - zero) * scale)
      continue
    }
    const zeroByte = weight.zeroPoints[row * bytesPerRow + (bits === 8 ? block : block >> 1)] as number
    const zero = bits === 8 ? zeroByte : block & 1 ? zeroByte >> 4 : zeroByte & 0x0f
    values[at] = Math.fround(scale * (quant - zero))
  }
  return values
}
