import type { DecoderContext } from './context.ts'

/** The Hugging Face name of the token embedding, which a tied head shares. */
export const embeddingWeight = 'model.embed_tokens.weight'

/**
 * The token embedding lookup, input_ids `[B, S]` → `[B, S, hidden]`, as node `/model/embed_tokens/<op>`: a Gather
 * over the float table, or in q4/q8 exports a com.microsoft GatherBlockQuantized over the table's 4- or 8-bit
 * blocks of 32 (weights.ts quantizedGather), the same bytes a tied head's MatMulNBits reads, so the table costs its
 * quantized size once instead of its float size beside a quantized copy.
 */
export function embeddingLookup(context: DecoderContext): string {
  const { graph, weights, inputs } = context
  const blocks = weights.quantizedGather('model.embed_tokens', embeddingWeight)
  if (blocks === undefined) {
    return graph.node1({
      op: 'Gather',
      name: graph.uniqueName('/model/embed_tokens/Gather'),
      inputs: [weights.asIs(embeddingWeight, embeddingWeight), inputs.inputIds],
    })
  }
  return graph.node1({
    op: 'GatherBlockQuantized',
    domain: 'com.microsoft',
    name: graph.uniqueName('/model/embed_tokens/GatherBlockQuantized'),
    inputs: [blocks.weight, inputs.inputIds, blocks.scales, blocks.zeroPoints],
    attributes: { block_size: 32, bits: blocks.bits, gather_axis: 0, quantize_axis: 1 },
  })
}
