import { GGMLQuantizationType } from '@huggingface/gguf'

/**
 * GGML tensor element types that Tiller reads or writes, with their block layouts (ggml-common.h).
 *
 * Quantized types store elements in blocks along the innermost dimension (ne0). Legacy blocks hold 32 elements
 * (Q8_0: float16 scale + 32 int8, 34 bytes; Q4_0: scale + 16 bytes of nibbles, 18 bytes); K-quants and IQ4_XS
 * hold super-blocks of 256 elements (Q4_K: 144 bytes); IQ4_NL is a 32-element block with a 16-value codebook.
 *
 * Q8_1 and Q8_K are left out on purpose: ggml uses them only for the activations side of its dot products
 * (llama-quantize never writes them into a model file), so a GGUF holding them is not a model people own.
 */
export interface GgmlTypeLayout {
  /** Elements per block (1 for plain float types). */
  blockSize: number
  /** Bytes per block. */
  bytesPerBlock: number
}

const layouts = new Map<number, GgmlTypeLayout>([
  [GGMLQuantizationType.F32, { blockSize: 1, bytesPerBlock: 4 }],
  [GGMLQuantizationType.F16, { blockSize: 1, bytesPerBlock: 2 }],
  [GGMLQuantizationType.BF16, { blockSize: 1, bytesPerBlock: 2 }],
  [GGMLQuantizationType.Q8_0, { blockSize: 32, bytesPerBlock: 34 }],
  [GGMLQuantizationType.Q4_0, { blockSize: 32, bytesPerBlock: 18 }],
  [GGMLQuantizationType.Q4_1, { blockSize: 32, bytesPerBlock: 20 }],
  [GGMLQuantizationType.Q5_0, { blockSize: 32, bytesPerBlock: 22 }],
  [GGMLQuantizationType.Q5_1, { blockSize: 32, bytesPerBlock: 24 }],
  [GGMLQuantizationType.Q2_K, { blockSize: 256, bytesPerBlock: 84 }],
  [GGMLQuantizationType.Q3_K, { blockSize: 256, bytesPerBlock: 110 }],
  [GGMLQuantizationType.Q4_K, { blockSize: 256, bytesPerBlock: 144 }],
  [GGMLQuantizationType.Q5_K, { blockSize: 256, bytesPerBlock: 176 }],
  [GGMLQuantizationType.Q6_K, { blockSize: 256, bytesPerBlock: 210 }],
  [GGMLQuantizationType.IQ4_NL, { blockSize: 32, bytesPerBlock: 18 }],
  [GGMLQuantizationType.IQ4_XS, { blockSize: 256, bytesPerBlock: 136 }],
])

/** The GGML type ids Tiller supports, for messages ("F32, F16, BF16, Q8_0, Q4_0, ..."). */
export const supportedGgmlTypeNames: readonly string[] = [...layouts.keys()].map((type) => ggmlTypeName(type))

/** The GGML name of a type id ("Q4_K"), or "type 99" for ids no GGML version defines. */
export function ggmlTypeName(type: number): string {
  const name: unknown = (GGMLQuantizationType as unknown as Record<number, unknown>)[type]
  return typeof name === 'string' ? name : `type ${type}`
}

/** The block layout of a supported type, or undefined for types Tiller cannot read or write. */
export function ggmlTypeLayout(type: number): GgmlTypeLayout | undefined {
  return layouts.get(type)
}

/**
 * Bytes a tensor of `elementsPerRow` x `rowCount` elements occupies in this type, or undefined when the type is
 * unsupported or a row is not a whole number of blocks.
 */
export function ggmlTensorByteLength(
  type: number,
  elementsPerRow: number,
  rowCount: number,
): number | undefined {
  const layout = layouts.get(type)
  if (layout === undefined || elementsPerRow % layout.blockSize !== 0) return undefined
  return (elementsPerRow / layout.blockSize) * layout.bytesPerBlock * rowCount
}
