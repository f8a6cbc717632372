import { GGMLQuantizationType } from '@huggingface/gguf'

/**
 * GGML tensor element types that Tiller reads or writes, with their block layouts.
 *
 * Quantized types store elements in blocks along the innermost dimension (ne0): Q8_0 is a float16 scale plus
 * 32 int8 values (34 bytes per 32 elements), Q4_0 a float16 scale plus 16 bytes of nibbles (18 bytes per 32).
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
])

/** The GGML type ids Tiller supports, for messages ("F32, F16, BF16, Q8_0, Q4_0"). */
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
