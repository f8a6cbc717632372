import { GGMLQuantizationType } from '@huggingface/gguf'

import {
  dequantizeQ4_0,
  dequantizeQ4_1,
  dequantizeQ5_0,
  dequantizeQ5_1,
  dequantizeQ8_0,
} from './dequantize-legacy.ts'
import {
  dequantizeQ2_K,
  dequantizeQ3_K,
  dequantizeQ4_K,
  dequantizeQ5_K,
  dequantizeQ6_K,
} from './dequantize-k.ts'
import { dequantizeIQ4_NL, dequantizeIQ4_XS } from './dequantize-iq.ts'

export { dequantizeQ4_0, dequantizeQ8_0 } from './dequantize-legacy.ts'

/**
 * The block dequantizer of each GGML type Tiller reads: raw little-endian tensor bytes and the element count ->
 * float32 values in storage order (`[elements]`), written into `output` when given. The per-family files
 * (dequantize-legacy, dequantize-k, dequantize-iq) document each layout.
 */
export type BlockDequantizer = (
  bytes: Uint8Array,
  elementCount: number,
  output?: Float32Array,
) => Float32Array

const dequantizers = new Map<number, BlockDequantizer>([
  [GGMLQuantizationType.Q4_0, dequantizeQ4_0],
  [GGMLQuantizationType.Q4_1, dequantizeQ4_1],
  [GGMLQuantizationType.Q5_0, dequantizeQ5_0],
  [GGMLQuantizationType.Q5_1, dequantizeQ5_1],
  [GGMLQuantizationType.Q8_0, dequantizeQ8_0],
  [GGMLQuantizationType.Q2_K, dequantizeQ2_K],
  [GGMLQuantizationType.Q3_K, dequantizeQ3_K],
  [GGMLQuantizationType.Q4_K, dequantizeQ4_K],
  [GGMLQuantizationType.Q5_K, dequantizeQ5_K],
  [GGMLQuantizationType.Q6_K, dequantizeQ6_K],
  [GGMLQuantizationType.IQ4_NL, dequantizeIQ4_NL],
  [GGMLQuantizationType.IQ4_XS, dequantizeIQ4_XS],
])

/** The dequantizer of a block-quantized GGML type, or undefined for float types and types Tiller cannot read. */
export function blockDequantizer(type: number): BlockDequantizer | undefined {
  return dequantizers.get(type)
}

/** BF16 bit patterns `[elements]` -> float32 `[elements]` (exact: a bfloat16 is the upper half of a float32). */
export function dequantizeBfloat16(bits: Uint16Array): Float32Array {
  const values = new Float32Array(bits.length)
  const words = new Uint32Array(values.buffer)
  for (let index = 0; index < bits.length; index++) words[index] = (bits[index] as number) << 16
  return values
}
