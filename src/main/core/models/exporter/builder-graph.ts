import { float } from '../../onnx/builder.ts'
import { graphOutputs } from '../graph-contract.ts'
import { mlpInputNormName } from '../checkpoint.ts'
import { builderHeadNorm, withProjectionBias } from './attention-extras.ts'
import { attention, gqaLengths, type BuilderAttention } from './builder-attention.ts'
import { builderActivation, needsLocalRope, scaledEmbedding, softcap, usesLocalRope } from './gemma-extras.ts'
import type { DecoderContext } from './context.ts'
import { embeddingLookup, embeddingWeight } from './embedding.ts'
import { keptPositions } from './decoder-io.ts'
import { emitLinear } from './linear.ts'
import { ropeTables } from './rope.ts'

/**
 * The onnxruntime-genai builder family (RUNTIME-NOTES §2.3): fused contrib ops and the builder's node names.
 *
 *   /model/embed_tokens/Gather                       GatherBlockQuantized in q4/q8 exports (embedding.ts)
 *   /model/layers.{i}/input_layernorm/LayerNorm      SimplifiedLayerNormalization (layer 0)
 *   /model/layers.{i}/input_layernorm/SkipLayerNorm  SkipSimplifiedLayerNormalization, output_3 = residual sum
 *   /model/layers.{i}/attn/{q,k,v}_proj/MatMul, /attn/{q,k}_rotary/RotaryEmbedding (com.microsoft)
 *   /model/layers.{i}/attn/Attention | MultiHeadAttention | GroupQueryAttention   output_0 = heads [B, S, heads·headDim]
 *   /model/layers.{i}/attn/o_proj/MatMul, /post_attention_layernorm/SkipLayerNorm
 *   /model/layers.{i}/mlp/{gate,up}_proj/MatMul, /mlp/act_fn/{Sigmoid,Mul}, /mlp/Mul, /mlp/down_proj/MatMul
 *   /model/layers.{L}/final_norm_layernorm/SkipLayerNorm, /lm_head/MatMul → logits
 * Norm outputs are named by scope (`/model/layers.{i}/input_layernorm/output_0`, `…/output_3`), other tensors
 * `{node}/output_{k}`, as in real builder exports (the ortgenai fixture). Layer 0's plain norm is named
 * `…/LayerNorm`, like the builder's `make_layernorm`. q|k|v and gate|up stay separate MatMuls: one MatMul plus a
 * Split each measured no faster on stories260K (0.96×) nor the random 110M Llama (1.01×) (docs/performance.md).
 *
 * Gemma adds /model/embed_tokens/Mul, the norms /post_attention_layernorm/LayerNorm (attention output, plain
 * SimplifiedLayerNormalization), /pre_feedforward_layernorm/SkipLayerNorm (residual join before the MLP) and
 * /post_feedforward_layernorm/LayerNorm (MLP output), /mlp/act_fn/FastGelu (tanh GELU), cos/sin_cache_local for
 * sliding layers (Gemma 3), score soft-capping (the Attention op's or GQA's softcap, capped-attention.ts for MHA) and
 * /lm_head/softcap before the logits.
 *
 * Attention variants: builder-attention.ts.
 */
export type { BuilderAttention }

/** A norm's outputs: the normalized activation and the residual stream after it (input + skip). */
interface NormOutputs {
  normed: string
  /** input + skip (output_3); for the plain first norm, the input itself; '' when not kept (final norm) */
  sum: string
}

/** RoPE on `[B, S, heads·headDim]` at position_ids, same shape out. */
function rotary(
  context: DecoderContext,
  layer: number,
  which: 'q' | 'k',
  input: string,
  heads: number,
): string {
  const suffix = usesLocalRope(context.config, layer) ? '_local' : ''
  return context.graph.node1({
    op: 'RotaryEmbedding',
    domain: 'com.microsoft',
    name: `/model/layers.${layer}/attn/${which}_rotary/RotaryEmbedding`,
    inputs: [input, context.inputs.positionIds, `cos_cache${suffix}`, `sin_cache${suffix}`],
    attributes: { interleaved: 0, num_heads: heads, rotary_embedding_dim: 0 },
  })
}

/**
 * RMSNorm of `residual + skip` (SkipSimplifiedLayerNormalization) or of `residual` alone when there is no skip
 * (layer 0's input norm, SimplifiedLayerNormalization). `[B, S, hidden]` in and out.
 */
function norm(
  context: DecoderContext,
  scope: string,
  weight: string,
  residual: string,
  skip: string | undefined,
  keepSum: boolean,
): NormOutputs {
  const { graph, config } = context
  const epsilon = float(config.rmsNormEps)
  if (skip === undefined) {
    graph.node({
      op: 'SimplifiedLayerNormalization',
      name: `${scope}/LayerNorm`,
      inputs: [residual, weight],
      outputs: [`${scope}/output_0`],
      attributes: { epsilon, axis: -1, stash_type: 1 },
    })
    return { normed: `${scope}/output_0`, sum: residual }
  }
  graph.node({
    op: 'SkipSimplifiedLayerNormalization',
    domain: 'com.microsoft',
    name: `${scope}/SkipLayerNorm`,
    inputs: [residual, skip, weight],
    outputs: keepSum ? [`${scope}/output_0`, '', '', `${scope}/output_3`] : [`${scope}/output_0`],
    attributes: { epsilon },
  })
  return { normed: `${scope}/output_0`, sum: keepSum ? `${scope}/output_3` : '' }
}

/**
 * One decoder block. `residual` `[B, S, hidden]` is the stream entering it and `skip` the previous block's MLP
 * output (undefined for layer 0, whose input norm has nothing to add). Returns the block's un-summed outputs:
 * the mid-block residual and this block's down_proj output `[B, S, hidden]`, summed by the next norm.
 */
function decoderBlock(
  context: DecoderContext,
  layer: number,
  variant: BuilderAttention,
  residual: string,
  skip: string | undefined,
): { residual: string; skip: string } {
  const { graph, config, weights } = context
  const hf = `model.layers.${layer}`
  const scope = `/model/layers.${layer}`
  const linear = (path: string, input: string, source: string): string =>
    emitLinear(
      context,
      `${scope}/${path}/MatMul`,
      input,
      `${hf}.${path.replace('/', '.')}.MatMul.weight`,
      source,
    )
  const inputWeight = weights.asIs(`${hf}.input_layernorm.weight`, `${hf}.input_layernorm.weight`)
  const inputNorm = norm(context, `${scope}/input_layernorm`, inputWeight, residual, skip, true)
  // q/k/v `[B, S, heads·headDim]` (kv: kvHeads·headDim), with the family's biases and q/k norms before RoPE.
  const project = (which: 'q' | 'k' | 'v'): string =>
    withProjectionBias(
      context,
      `${scope}/attn`,
      layer,
      which,
      linear(`attn/${which}_proj`, inputNorm.normed, `${hf}.self_attn.${which}_proj.weight`),
      `${hf}.attn.${which}_proj.Add.bias`,
    )
  const q = rotary(
    context,
    layer,
    'q',
    builderHeadNorm(context, layer, 'q', project('q'), config.numHeads),
    config.numHeads,
  )
  const k = rotary(
    context,
    layer,
    'k',
    builderHeadNorm(context, layer, 'k', project('k'), config.numKeyValueHeads),
    config.numKeyValueHeads,
  )
  const v = project('v')
  const heads = attention(context, layer, variant, q, k, v)
  const projected = linear('attn/o_proj', heads, `${hf}.self_attn.o_proj.weight`)
  const sandwich = config.sandwichNorms === true
  const normWeight = (name: string): string => weights.asIs(`${hf}.${name}.weight`, `${hf}.${name}.weight`)
  // Gemma's plain norm of a sub-layer output, the tensor the next join adds to the residual.
  const outputNorm = (name: string, input: string): string =>
    norm(context, `${scope}/${name}`, normWeight(name), input, undefined, false).normed
  const attentionOut = sandwich ? outputNorm('post_attention_layernorm', projected) : projected
  const mlpNorm = mlpInputNormName(config)
  const postNorm = norm(
    context,
    `${scope}/${mlpNorm}`,
    normWeight(mlpNorm),
    inputNorm.sum,
    attentionOut,
    true,
  )
  const gate = linear('mlp/gate_proj', postNorm.normed, `${hf}.mlp.gate_proj.weight`)
  const up = linear('mlp/up_proj', postNorm.normed, `${hf}.mlp.up_proj.weight`)
  const activated = builderActivation(context, `${scope}/mlp/act_fn`, gate)
  const neurons = graph.node1({ op: 'Mul', name: `${scope}/mlp/Mul`, inputs: [activated, up] })
  const down = linear('mlp/down_proj', neurons, `${hf}.mlp.down_proj.weight`)
  return {
    residual: postNorm.sum,
    skip: sandwich ? outputNorm('post_feedforward_layernorm', down) : down,
  }
}

/** Emit the builder-family decoder into `context.graph` (inputs, outputs and attention bias already present). */
export function buildBuilderFamily(context: DecoderContext, variant: BuilderAttention): void {
  const { graph, config, weights } = context
  const tables = ropeTables(config)
  weights.computed('cos_cache', [tables.positions, tables.half], tables.cos)
  weights.computed('sin_cache', [tables.positions, tables.half], tables.sin)
  if (needsLocalRope(config)) {
    const local = ropeTables(config, true)
    weights.computed('cos_cache_local', [local.positions, local.half], local.cos)
    weights.computed('sin_cache_local', [local.positions, local.half], local.sin)
  }
  if (variant === 'gqa') gqaLengths(context)
  let residual = scaledEmbedding(context, '/model/embed_tokens', embeddingLookup(context))
  let skip: string | undefined
  for (let layer = 0; layer < config.numLayers; layer++) {
    ;({ residual, skip } = decoderBlock(context, layer, variant, residual, skip))
  }
  const finalWeight = weights.asIs(
    `model.layers.${config.numLayers}.final_norm_layernorm.weight`,
    'model.norm.weight',
  )
  const finalNorm = norm(
    context,
    `/model/layers.${config.numLayers}/final_norm_layernorm`,
    finalWeight,
    residual,
    skip,
    false,
  )
  const cap = config.finalLogitSoftcap
  const logits = emitLinear(
    context,
    '/lm_head/MatMul',
    keptPositions(graph, context.constants, context.inputs, finalNorm.normed),
    'lm_head.MatMul.weight',
    config.tieWordEmbeddings ? embeddingWeight : 'lm_head.weight',
    cap === undefined ? [graphOutputs.logits] : undefined,
  )
  if (cap !== undefined) softcap(context, '/lm_head/softcap', logits, cap, [graphOutputs.logits])
}
