/** The dtypes an export writes and how its quantized linear weights compute. */

/**
 * What the exported graph stores: float32 or float16 weights, activations and KV cache, or 4-/8-bit block-quantized
 * linear weights (com.microsoft MatMulNBits) and embedding table (GatherBlockQuantized, embedding.ts) with float32
 * activations, KV cache and norms.
 */
export type ExportDType = 'float32' | 'float16' | 'q4' | 'q8'

/**
 * What a q4/q8 export's MatMulNBits nodes multiply in. 'int8' (ONNX Runtime's accuracy_level 4): each step's
 * activations are quantized to int8 per block of 32 and multiplied with integer dot products, about 3× faster on
 * CPU than 'float32' (accuracy_level 0), which dequantizes the weights and multiplies in float32, giving the float32
 * export of the same quantized weights up to summation order. 'int8' writes blocks with offsets (Q4_1, Q4_K, …)
 * with integer zero points, which its kernel needs (OffsetBlocks).
 */
export type LinearCompute = 'int8' | 'float32'

/** The compute of q4/q8 exports when none is asked for: int8, the fast one. */
export const defaultLinearCompute: LinearCompute = 'int8'

/**
 * How a q4 export with int8 compute writes blocks with offsets (Q4_1, Q4_K, and Q5_1, Q5_K where they get 4 bits):
 * '4bit' requantizes them to 4 bits with fitted integer zero points (fitted-zero-points.ts), about the GGUF's size,
 * at the error a 4-bit requantization costs; '8bit' keeps their quants at 8 bits with integer zero points, each
 * weight within 1/32 of its step (quantize-blocks.ts integerZeroPoints), about twice the GGUF's size.
 * Float compute keeps them at 4 bits with float zero points either way.
 */
export type OffsetBlocks = '4bit' | '8bit'

/** How blocks with offsets are written when nothing is asked: at 4 bits, the GGUF's size. */
export const defaultOffsetBlocks: OffsetBlocks = '4bit'

/** MatMulNBits' accuracy_level attribute for a compute: 4 = int8 activations, 0 = float (ONNX Runtime contrib ops). */
export function accuracyLevelOf(compute: LinearCompute): 0 | 4 {
  return compute === 'int8' ? 4 : 0
}

/** Element type of activations, KV cache and float weights. */
export type FloatType = 'float32' | 'float16'

/** The float type the graph computes in for an export dtype. */
export function floatTypeOf(dtype: ExportDType): FloatType {
  return dtype === 'float16' ? 'float16' : 'float32'
}

/** MatMulNBits bits for a quantized dtype, undefined for the float dtypes. */
export function quantBitsOf(dtype: ExportDType): 4 | 8 | undefined {
  return dtype === 'q4' ? 4 : dtype === 'q8' ? 8 : undefined
}
