import { GGMLQuantizationType } from '@huggingface/gguf'

/**
 * Bits of each stored value of a GGML type: the quant width of a block type (its scales and minimums aside), 16 or
 * 32 for floats. A quantized export uses it to keep a file's precision mix (exporter/weights.ts): Q4_K_M files store
 * most matrices as Q4_K and a few as Q6_K, and a 4-bit copy of the Q6_K ones loses what the file kept.
 */
const bitsByType = new Map<number, number>([
  [GGMLQuantizationType.F32, 32],
  [GGMLQuantizationType.F16, 16],
  [GGMLQuantizationType.BF16, 16],
  [GGMLQuantizationType.Q8_0, 8],
  [GGMLQuantizationType.Q6_K, 6],
  [GGMLQuantizationType.Q5_0, 5],
  [GGMLQuantizationType.Q5_1, 5],
  [GGMLQuantizationType.Q5_K, 5],
  [GGMLQuantizationType.Q4_0, 4],
  [GGMLQuantizationType.Q4_1, 4],
  [GGMLQuantizationType.Q4_K, 4],
  [GGMLQuantizationType.IQ4_NL, 4],
  [GGMLQuantizationType.IQ4_XS, 4],
  [GGMLQuantizationType.Q3_K, 3],
  [GGMLQuantizationType.Q2_K, 2],
])

/** The stored bits per value of GGML type `type`, or undefined for a type Tiller does not read. */
export function sourceBitsOf(type: number): number | undefined {
  return bitsByType.get(type)
}
