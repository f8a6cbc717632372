import { float } from '../../onnx/builder.ts'
import { pastName, presentName } from '../graph-contract.ts'
import { cappedAttention } from './capped-attention.ts'
import { attentionBiasOf, attentionScale } from './gemma-extras.ts'
import type { DecoderContext } from './context.ts'

/**
 * The builder family's attention core, q/k/v after RoPE → heads `[B, S, heads·headDim]`, writing present.*.
 *
 * Attention variants:
 *   onnx the standard ONNX Attention op (opset 23) with q_num_heads/kv_num_heads, the in-graph bias as attn_mask
 *        (padding only, with `is_causal`, when no layer slides: attention-bias.ts buildPaddingBias) and the
 *        kvHeads-wide cache as past/present: shares kv heads natively and meets the whole contract (any
 *        batch, left padding, multi-token steps over a cache), in one node where MultiHeadAttention needs twelve
 *        more per layer to concatenate and repeat a shared-kv cache. Measured 1.3–1.4× faster decode steps on
 *        stories260K (scripts/bench/decode-graph.ts); the default.
 *   mha  com.microsoft MultiHeadAttention with the in-graph bias: any head size, left padding, batches with a
 *        cache at any sequence length. When kv heads < heads, the cache is concatenated in-graph (kvHeads wide, as
 *        the contract says) and repeated to all heads for MHA.
 *   gqa  com.microsoft GroupQueryAttention fed the same bias through its attention_bias input, with seqlens_k =
 *        total − 1 for every row (padding is handled by the bias, not by seqlens). Shares kv heads natively, but
 *        on CPU it refuses batch > 1 with sequence > 1 when a cache is given ("batch_size must be 1 when
 *        sequence_length > 1 and past context is given"), so it does not meet the whole contract.
 */
export type BuilderAttention = 'mha' | 'gqa' | 'onnx'

/** The kvHeads-wide cache for `kind`: Concat(past, new) on the sequence axis `[B, kvHeads, total, headDim]`. */
function concatenatedCache(
  context: DecoderContext,
  layer: number,
  kind: 'key' | 'value',
  fresh: string,
): string {
  const { graph, config, constants } = context
  const scope = `/model/layers.${layer}/attn/${kind === 'key' ? 'k' : 'v'}_cache`
  const split = graph.node1({
    op: 'Reshape',
    name: `${scope}/Reshape`,
    inputs: [fresh, constants.int64([0, 0, config.numKeyValueHeads, config.headDim])],
  }) // [B, S, kvHeads, headDim]
  const headsFirst = graph.node1({
    op: 'Transpose',
    name: `${scope}/Transpose`,
    inputs: [split],
    attributes: { perm: [0, 2, 1, 3] },
  }) // [B, kvHeads, S, headDim]
  graph.node({
    op: 'Concat',
    name: `${scope}/Concat`,
    inputs: [pastName(layer, kind), headsFirst],
    outputs: [presentName(layer, kind)],
    attributes: { axis: 2 },
  })
  return presentName(layer, kind)
}

/** Repeat each kv head heads/kvHeads times: `[B, kvHeads, T, D]` → `[B, heads, T, D]`. */
function repeatHeads(context: DecoderContext, layer: number, kind: 'key' | 'value', cache: string): string {
  const { graph, config, constants } = context
  const scope = `/model/layers.${layer}/attn/${kind === 'key' ? 'k' : 'v'}_repeat`
  const group = config.numHeads / config.numKeyValueHeads
  const unsqueezed = graph.node1({
    op: 'Unsqueeze',
    name: `${scope}/Unsqueeze`,
    inputs: [cache, constants.int64([2])],
  })
  const expanded = graph.node1({
    op: 'Expand',
    name: `${scope}/Expand`,
    inputs: [unsqueezed, constants.int64([1, 1, group, 1, 1])],
  }) // [B, kvHeads, group, T, D]
  return graph.node1({
    op: 'Reshape',
    name: `${scope}/Reshape`,
    inputs: [expanded, constants.int64([0, config.numHeads, -1, config.headDim])],
  })
}

/** q `[B, S, heads·D]`, k and v `[B, S, kvHeads·D]` → concatenated heads `[B, S, heads·D]`; writes present.* */
export function attention(
  context: DecoderContext,
  layer: number,
  variant: BuilderAttention,
  q: string,
  k: string,
  v: string,
): string {
  const { graph, config } = context
  const scope = `/model/layers.${layer}/attn`
  const scale = float(attentionScale(config))
  const bias = attentionBiasOf(context, layer)
  const cap = config.attentionLogitSoftcap
  if (variant === 'gqa') {
    const [heads] = graph.node({
      op: 'GroupQueryAttention',
      domain: 'com.microsoft',
      name: `${scope}/GroupQueryAttention`,
      inputs: [
        q,
        k,
        v,
        pastName(layer, 'key'),
        pastName(layer, 'value'),
        'seqlens_k',
        'total_sequence_length',
        '',
        '',
        '',
        bias,
      ],
      outputs: [
        `${scope}/GroupQueryAttention/output_0`,
        presentName(layer, 'key'),
        presentName(layer, 'value'),
      ],
      attributes: {
        num_heads: config.numHeads,
        kv_num_heads: config.numKeyValueHeads,
        scale,
        ...(cap === undefined ? {} : { softcap: float(cap) }),
      },
    })
    return heads ?? ''
  }
  if (variant === 'onnx') {
    const [heads] = graph.node({
      op: 'Attention',
      name: `${scope}/Attention`,
      inputs: [q, k, v, bias, pastName(layer, 'key'), pastName(layer, 'value')],
      outputs: [`${scope}/Attention/output_0`, presentName(layer, 'key'), presentName(layer, 'value')],
      attributes: {
        q_num_heads: config.numHeads,
        kv_num_heads: config.numKeyValueHeads,
        scale,
        ...(cap === undefined ? {} : { softcap: float(cap) }),
        ...(context.causalInAttention === true ? { is_causal: 1 } : {}),
      },
    })
    return heads ?? ''
  }
  if (cap !== undefined) {
    const keys = repeatHeads(context, layer, 'key', concatenatedCache(context, layer, 'key', k))
    const values = repeatHeads(context, layer, 'value', concatenatedCache(context, layer, 'value', v))
    return cappedAttention(context, layer, q, keys, values, bias)
  }
  const name = `${scope}/MultiHeadAttention`
  const attributes = { num_heads: config.numHeads, scale }
  if (config.numKeyValueHeads === config.numHeads) {
    // MHA appends the new keys/values to the cache itself (BNSH past → present), as in the builder's exports.
    const [heads] = graph.node({
      op: 'MultiHeadAttention',
      domain: 'com.microsoft',
      name,
      inputs: [q, k, v, '', '', bias, pastName(layer, 'key'), pastName(layer, 'value')],
      outputs: [`${name}/output_0`, presentName(layer, 'key'), presentName(layer, 'value')],
      attributes,
    })
    return heads ?? ''
  }
  const keys = repeatHeads(context, layer, 'key', concatenatedCache(context, layer, 'key', k))
  const values = repeatHeads(context, layer, 'value', concatenatedCache(context, layer, 'value', v))
  return graph.node1({
    op: 'MultiHeadAttention',
    domain: 'com.microsoft',
    name,
    inputs: [q, keys, values, '', '', bias],
    attributes,
  })
}

/** seqlens_k (int32 [B], total − 1 for every row) and total_sequence_length (int32 scalar) for GQA. */
export function gqaLengths(context: DecoderContext): void {
  const { graph, constants, inputs } = context
  const scope = '/model/attn_mask_reformat'
  const shape = graph.node1({ op: 'Shape', name: `${scope}/Shape`, inputs: [inputs.attentionMask] }) // [2]
  const batch = graph.node1({
    op: 'Slice',
    name: `${scope}/Slice`,
    inputs: [shape, constants.int64([0]), constants.int64([1])],
  })
  const totalVector = graph.node1({
    op: 'Slice',
    name: `${scope}/Slice_1`,
    inputs: [shape, constants.int64([1]), constants.int64([2])],
  })
  const last = graph.node1({ op: 'Sub', name: `${scope}/Sub`, inputs: [totalVector, constants.int64([1])] })
  const perRow = graph.node1({ op: 'Expand', name: `${scope}/Expand`, inputs: [last, batch] })
  graph.node({
    op: 'Cast',
    name: `${scope}/Cast`,
    inputs: [perRow],
    outputs: ['seqlens_k'],
    attributes: { to: 6 },
  })
  const totalScalar = graph.node1({
    op: 'Squeeze',
    name: `${scope}/Squeeze`,
    inputs: [totalVector, constants.int64([0])],
  })
  graph.node({
    op: 'Cast',
    name: `${scope}/Cast_1`,
    inputs: [totalScalar],
    outputs: ['total_sequence_length'],
    attributes: { to: 6 },
  })
}
