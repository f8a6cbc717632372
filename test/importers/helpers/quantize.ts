import { GGMLQuantizationType } from '@huggingface/gguf'

import { quantizeIQ4_NL, quantizeIQ4_XS } from './quantize-iq.ts'
import { quantizeQ2_K, quantizeQ3_K, quantizeQ4_K, quantizeQ5_K, quantizeQ6_K } from './quantize-k.ts'
import { quantizeQ4_0, quantizeQ4_1, quantizeQ5_0, quantizeQ5_1, quantizeQ8_0 } from './quantize-legacy.ts'

/**
 * The reference encoder of every block type Tiller reads, by GGML type: float32 `[elements]` -> raw block bytes
 * (elements a multiple of the type's block size, 32 or 256), for writing quantized test models.
 */
export const quantizers = new Map<GGMLQuantizationType, (values: Float32Array) => Uint8Array>([
  [GGMLQuantizationType.Q4_0, quantizeQ4_0],
  [GGMLQuantizationType.Q4_1, quantizeQ4_1],
  [GGMLQuantizationType.Q5_0, quantizeQ5_0],
  [GGMLQuantizationType.Q5_1, quantizeQ5_1],
  [GGMLQuantizationType.Q8_0, quantizeQ8_0],
  [GGMLQuantizationType.Q2_K, quantizeQ2_K],
  [GGMLQuantizationType.Q3_K, quantizeQ3_K],
  [GGMLQuantizationType.Q4_K, quantizeQ4_K],
  [GGMLQuantizationType.Q5_K, quantizeQ5_K],
  [GGMLQuantizationType.Q6_K, quantizeQ6_K],
  [GGMLQuantizationType.IQ4_NL, quantizeIQ4_NL],
  [GGMLQuantizationType.IQ4_XS, quantizeIQ4_XS],
])

/** Encode `values` as `type`; throws for types without a reference encoder. */
export function quantize(type: GGMLQuantizationType, values: Float32Array): Uint8Array {
  const encoder = quantizers.get(type)
  if (encoder === undefined) throw new Error(`no reference encoder for GGML type ${type}`)
  return encoder(values)
}
