import { quantBlockSize } from './quantize-blocks.ts'
import type { WeightTensor } from '../checkpoint.ts'
import type { WeightEntry } from '../weight-source.ts'
import {
  defaultOffsetBlocks,
  quantBitsOf,
  type ExportDType,
  type LinearCompute,
  type OffsetBlocks,
} from './export-dtype.ts'

/** How many bits each weight of a quantized export is written with, and in which form. */

/**
 * Whether a q4 export keeps the checkpoint's precision mix: true when some matrix was stored with 4 bits or fewer
 * (a Q4_K_M file's Q4_K), so its more precise matrices (Q6_K, Q8_0, F16, ...) are the file's deliberate choice
 * and get 8 bits. A checkpoint without such matrices (an F16 or Q8_0 file, or one without source bits) is
 * requantized to 4 bits throughout, as `--dtype q4` asks.
 */
function keepsMix(weights: Iterable<WeightEntry>): boolean {
  for (const tensor of weights) {
    if (tensor.shape.length === 2 && tensor.sourceBits !== undefined && tensor.sourceBits <= 4) return true
  }
  return false
}

/** Whether a weight's source blocks carry offsets: from its entry, or from the blocks of a loaded weight. */
function hasBlockOffsets(tensor: WeightEntry | WeightTensor): boolean {
  if ('blocks' in tensor && tensor.blocks?.offsets !== undefined) return true
  return 'blockOffsets' in tensor && tensor.blockOffsets === true
}

/**
 * The MatMulNBits bits each matrix of a checkpoint (its weights or their entries) gets in a `dtype` export with
 * `compute`, as a function of the tensor: undefined for float exports, 8 in q8, and in q4 8 for a source weight
 * above 4 bits when the checkpoint keeps its mix (keepsMix), 8 for blocks with offsets (Q4_1, Q4_K) under int8
 * compute when `offsetBlocks` is '8bit' (their quants kept within 1/32 of a step), else 4.
 */
export function linearBitsOf(
  weights: Iterable<WeightEntry>,
  dtype: ExportDType,
  compute: LinearCompute,
  offsetBlocks: OffsetBlocks = defaultOffsetBlocks,
): (tensor: WeightEntry | WeightTensor) => 4 | 8 | undefined {
  const exportBits = quantBitsOf(dtype)
  const mixed = exportBits === 4 && keepsMix(weights)
  return (tensor) => {
    if (exportBits !== 4) return exportBits
    if (mixed && (tensor.sourceBits ?? 0) > 4) return 8
    return compute === 'int8' && offsetBlocks === '8bit' && hasBlockOffsets(tensor) ? 8 : 4
  }
}

/**
 * Whether a matrix a q4 export writes with `bits` holds blocks with offsets requantized with fitted zero points
 * (quantize-blocks.ts: 4 bits, int8 compute): the weights hash marks them, as their values change with the fit.
 */
export function fitsZeroPoints(
  tensor: WeightEntry | WeightTensor,
  bits: 4 | 8 | undefined,
  compute: LinearCompute,
): boolean {
  return bits === 4 && compute === 'int8' && hasBlockOffsets(tensor)
}

/**
 * Whether a `bits`-bit quantized export stores the token embedding `[vocab, hidden]` as 4- or 8-bit blocks that
 * com.microsoft GatherBlockQuantized reads, the same blocks a tied head's MatMulNBits reads: when its rows are whole
 * blocks of 32 and its zero points are integers (GatherBlockQuantized takes no float zero points, which 4 bits
 * under float compute give blocks with offsets). Otherwise the embedding stays float.
 */
export function gathersQuantized(
  tensor: WeightEntry | WeightTensor,
  bits: 4 | 8 | undefined,
  compute: LinearCompute,
): boolean {
  if (bits === undefined || tensor.shape.length !== 2 || (tensor.shape[1] ?? 0) % quantBlockSize !== 0)
    return false
  return !(bits === 4 && compute === 'float32' && hasBlockOffsets(tensor))
}
