import { attentionScale, softcap } from './gemma-extras.ts'
import type { DecoderContext } from './context.ts'

/**
 * Builder family, MultiHeadAttention variant, for configs with attention logit soft-capping (Gemma 2):
 * com.microsoft MultiHeadAttention cannot cap scores before its mask, so the attention core is written in
 * primitive ops, softmax(cap·tanh(q·kᵀ·scale / cap) + bias)·v. The GroupQueryAttention variant uses GQA's own
 * softcap attribute instead. Nodes are scoped `/model/layers.{i}/attn/capped/…`; the output keeps the builder's
 * layout, so o_proj and the hook sites around it are unchanged.
 *
 * q `[B, S, heads·D]` (after RoPE), keys and values `[B, heads, T, D]` (cache included, kv heads repeated),
 * bias `[B, 1, S, T]` → concatenated heads `[B, S, heads·D]`.
 */
export function cappedAttention(
  context: DecoderContext,
  layer: number,
  q: string,
  keys: string,
  values: string,
  bias: string,
): string {
  const { graph, config, constants } = context
  const scope = `/model/layers.${layer}/attn/capped`
  const node = (op: string, inputs: string[], attributes?: Record<string, number | number[]>): string =>
    graph.node1({ op, name: graph.uniqueName(`${scope}/${op}`), inputs, attributes })
  const split = node('Reshape', [q, constants.int64([0, 0, config.numHeads, config.headDim])])
  const queries = node('Transpose', [split], { perm: [0, 2, 1, 3] }) // [B, heads, S, D]
  const keysTransposed = node('Transpose', [keys], { perm: [0, 1, 3, 2] }) // [B, heads, D, T]
  const scores = node('MatMul', [queries, keysTransposed]) // [B, heads, S, T]
  const scaled = node('Mul', [scores, constants.float(attentionScale(config))])
  const capped = softcap(context, scope, scaled, config.attentionLogitSoftcap ?? Number.NaN)
  const probabilities = node('Softmax', [node('Add', [capped, bias])], { axis: -1 })
  const mixed = node('MatMul', [probabilities, values]) // [B, heads, S, D]
  const sequenceFirst = node('Transpose', [mixed], { perm: [0, 2, 1, 3] })
  return node('Reshape', [sequenceFirst, constants.int64([0, 0, config.numHeads * config.headDim])])
}
