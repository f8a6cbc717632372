import { blockCount, outputFor } from './block-bytes.ts'

/**
 * The loop every block dequantizer runs: check that the bytes hold whole blocks for the element count and that the
 * output is long enough, then decode block after block, each from its own bytes into its own run of values.
 */

/** A ggml block layout: how many elements one block holds in how many bytes. */
export interface BlockLayout {
  /** The ggml type name, for errors. */
  name: string
  elementsPerBlock: number
  bytesPerBlock: number
}

/**
 * Decodes one block: its first byte is `bytes[start]`, its first value goes to `values[base]`, and it writes
 * `values[base .. base + elementsPerBlock)`.
 */
export type BlockDecoder = (values: Float32Array, start: number, base: number) => void

/** Bytes `[elements / elementsPerBlock * bytesPerBlock]` -> float32 `[elements]` (into `output` when given). */
export function dequantizeBlocks(
  layout: BlockLayout,
  bytes: Uint8Array,
  elementCount: number,
  output: Float32Array | undefined,
  decodeBlock: BlockDecoder,
): Float32Array {
  const blocks = blockCount(bytes, elementCount, layout.elementsPerBlock, layout.bytesPerBlock, layout.name)
  const values = outputFor(elementCount, output, layout.name)
  for (let index = 0; index < blocks; index++) {
    decodeBlock(values, index * layout.bytesPerBlock, index * layout.elementsPerBlock)
  }
  return values
}
