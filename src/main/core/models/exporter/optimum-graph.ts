import { graphOutputs, pastName, presentName } from '../graph-contract.ts'
import type { AttributeValue } from '../../onnx/builder.ts'
import { TensorElementType } from '../../onnx/proto.ts'
import { mlpInputNormName } from '../checkpoint.ts'
import { withProjectionBias } from './attention-extras.ts'
import {
  attentionBiasOf,
  attentionScale,
  needsLocalRope,
  primitiveGeluTanh,
  scaledEmbedding,
  softcap,
  usesLocalRope,
} from './gemma-extras.ts'
import type { DecoderContext } from './context.ts'
import { embeddingLookup, embeddingWeight } from './embedding.ts'
import { keptPositions } from './decoder-io.ts'
import { emitLinear } from './linear.ts'
import { fullWidth, ropeTables } from './rope.ts'

/**
 * The Optimum / TorchScript family (RUNTIME-NOTES §2.2): primitive ops only, module-scoped node names numbered
 * per scope (`Add`, `Add_1`, ...) and tensors named `{node}_output_0`.
 *
 *   /model/embed_tokens/Gather   GatherBlockQuantized in q4/q8 exports (embedding.ts)
 *   /model/layers.{i}/input_layernorm/{Pow,ReduceMean,Add,Sqrt,Div,Mul,Mul_1}   RMSNorm
 *   /model/layers.{i}/self_attn/{q,k,v,o}_proj/MatMul
 *   /model/layers.{i}/self_attn/...   RoPE (Mul, Slice, Neg, Concat, Add), cache Concat on axis 2, repeat-kv,
 *                                     MatMul·scale + bias, Softmax, MatMul, Transpose, Reshape
 *   /model/layers.{i}/Add             residual after attention
 *   /model/layers.{i}/mlp/{gate,up}_proj/MatMul, /mlp/act_fn/{Sigmoid,Mul}, /mlp/Mul, /mlp/down_proj/MatMul
 *   /model/layers.{i}/Add_1           residual after the block
 *   /model/norm/..., /lm_head/MatMul → logits
 * Gemma adds /model/embed_tokens/Mul (× sqrt(hidden)), /self_attn/{Div,Tanh,Mul} score soft-capping, the norms
 * /post_attention_layernorm (attention output), /pre_feedforward_layernorm (before the MLP) and
 * /post_feedforward_layernorm (MLP output), a decomposed tanh GELU in /mlp/act_fn, /model/rotary_emb_local tables
 * for sliding layers (Gemma 3) and /lm_head/softcap/{Div,Tanh,Mul} before the logits.
 * float16 exports compute RMSNorm in float32 between two Casts, as Hugging Face's LlamaRMSNorm does.
 */

/** Adds one node named `${scope}/${op}` (numbered when taken) and returns its first output. */
function emit(
  context: DecoderContext,
  scope: string,
  op: string,
  inputs: string[],
  attributes?: Record<string, AttributeValue>,
  outputs?: string[],
): string {
  const name = context.graph.uniqueName(`${scope}/${op}`)
  return context.graph.node1({ op, name, inputs, attributes, outputs })
}

/**
 * A linear projection named `${scope}/MatMul` (numbered when taken) over HF weight `${hf}.weight`: MatMul, or
 * MatMulNBits in quantized exports (linear.ts).
 */
function linear(context: DecoderContext, scope: string, input: string, hf: string): string {
  const name = context.graph.uniqueName(`${scope}/MatMul`)
  return emitLinear(context, name, input, `${hf}.MatMul.weight`, `${hf}.weight`)
}

/** RMSNorm over the last axis: `[B, S, hidden]` → `[B, S, hidden]`. */
function rmsNorm(context: DecoderContext, scope: string, input: string, weight: string): string {
  const { constants, config, floatType } = context
  const upcast = floatType === 'float16'
  const x = upcast ? emit(context, scope, 'Cast', [input], { to: TensorElementType.float32 }) : input
  const squared = emit(context, scope, 'Pow', [x, constants.float(2, 'float32')])
  const variance = emit(context, scope, 'ReduceMean', [squared], { axes: [-1], keepdims: 1 })
  const shifted = emit(context, scope, 'Add', [variance, constants.float(config.rmsNormEps, 'float32')])
  const deviation = emit(context, scope, 'Sqrt', [shifted])
  const inverse = emit(context, scope, 'Div', [constants.float(1, 'float32'), deviation])
  const normalized = emit(context, scope, 'Mul', [x, inverse])
  const back = upcast
    ? emit(context, scope, 'Cast', [normalized], { to: TensorElementType.float16 })
    : normalized
  return emit(context, scope, 'Mul', [weight, back])
}

/** `[B, S, heads·D]` → `[B, heads, S, D]` */
function splitHeads(context: DecoderContext, scope: string, input: string, heads: number): string {
  const shape = context.constants.int64([0, 0, heads, context.config.headDim])
  const split = emit(context, scope, 'Reshape', [input, shape])
  return emit(context, scope, 'Transpose', [split], { perm: [0, 2, 1, 3] })
}

/** rotate_half RoPE on `[B, heads, S, D]` with cos/sin `[B, 1, S, D]`. */
function rope(context: DecoderContext, scope: string, x: string, cos: string, sin: string): string {
  const { constants, config } = context
  const half = config.headDim / 2
  const axis = constants.int64([3])
  const withCos = emit(context, scope, 'Mul', [x, cos])
  const first = emit(context, scope, 'Slice', [x, constants.int64([0]), constants.int64([half]), axis])
  const second = emit(context, scope, 'Slice', [
    x,
    constants.int64([half]),
    constants.int64([config.headDim]),
    axis,
  ])
  const negated = emit(context, scope, 'Neg', [second])
  const rotated = emit(context, scope, 'Concat', [negated, first], { axis: -1 })
  const withSin = emit(context, scope, 'Mul', [rotated, sin])
  return emit(context, scope, 'Add', [withCos, withSin])
}

/** Repeat kv heads to all heads: `[B, kvHeads, T, D]` → `[B, heads, T, D]` (identity when they are equal). */
function repeatKv(context: DecoderContext, scope: string, cache: string): string {
  const { constants, config } = context
  const group = config.numHeads / config.numKeyValueHeads
  if (group === 1) return cache
  const unsqueezed = emit(context, scope, 'Unsqueeze', [cache, constants.int64([2])])
  const expanded = emit(context, scope, 'Expand', [unsqueezed, constants.int64([1, 1, group, 1, 1])])
  return emit(context, scope, 'Reshape', [
    expanded,
    constants.int64([0, config.numHeads, -1, config.headDim]),
  ])
}

/** Self-attention of one layer: normed `[B, S, hidden]` → heads before o_proj `[B, S, heads·D]`. */
function selfAttention(
  context: DecoderContext,
  layer: number,
  normed: string,
  rotary: { cos: string; sin: string },
): string {
  const { config, constants, weights } = context
  const hf = `model.layers.${layer}.self_attn`
  const scope = `/model/layers.${layer}/self_attn`
  const project = (which: 'q' | 'k' | 'v'): string =>
    withProjectionBias(
      context,
      scope,
      layer,
      which,
      linear(context, `${scope}/${which}_proj`, normed, `${hf}.${which}_proj`),
      `${hf}.${which}_proj.bias`,
    )
  // Qwen 3 normalizes each head of q and k `[B, heads, S, D]` over D before RoPE.
  const headNorm = (which: 'q' | 'k', heads: string): string =>
    config.qkNorm === true
      ? rmsNorm(
          context,
          `${scope}/${which}_norm`,
          heads,
          weights.asIs(`${hf}.${which}_norm.weight`, `${hf}.${which}_norm.weight`),
        )
      : heads
  const q = headNorm('q', splitHeads(context, scope, project('q'), config.numHeads))
  const k = headNorm('k', splitHeads(context, scope, project('k'), config.numKeyValueHeads))
  const v = splitHeads(context, scope, project('v'), config.numKeyValueHeads)
  const qRotated = rope(context, scope, q, rotary.cos, rotary.sin)
  const kRotated = rope(context, scope, k, rotary.cos, rotary.sin)
  const keys = emit(context, scope, 'Concat', [pastName(layer, 'key'), kRotated], { axis: 2 }, [
    presentName(layer, 'key'),
  ])
  const values = emit(context, scope, 'Concat', [pastName(layer, 'value'), v], { axis: 2 }, [
    presentName(layer, 'value'),
  ])
  const keysTransposed = emit(context, scope, 'Transpose', [repeatKv(context, scope, keys)], {
    perm: [0, 1, 3, 2],
  })
  const scores = emit(context, scope, 'MatMul', [qRotated, keysTransposed]) // [B, heads, S, T]
  const scaled = emit(context, scope, 'Mul', [scores, constants.float(attentionScale(config))])
  const capped =
    config.attentionLogitSoftcap === undefined
      ? scaled
      : softcap(context, scope, scaled, config.attentionLogitSoftcap)
  const masked = emit(context, scope, 'Add', [capped, attentionBiasOf(context, layer)])
  const probabilities = emit(context, scope, 'Softmax', [masked], { axis: -1 })
  const mixed = emit(context, scope, 'MatMul', [probabilities, repeatKv(context, scope, values)]) // [B, heads, S, D]
  const sequenceFirst = emit(context, scope, 'Transpose', [mixed], { perm: [0, 2, 1, 3] })
  return emit(context, scope, 'Reshape', [
    sequenceFirst,
    constants.int64([0, 0, config.numHeads * config.headDim]),
  ])
}

/** Gated MLP of one layer (SiLU or tanh GELU): normed `[B, S, hidden]` → down_proj output `[B, S, hidden]`. */
function mlp(context: DecoderContext, layer: number, normed: string): string {
  const hf = `model.layers.${layer}.mlp`
  const scope = `/model/layers.${layer}/mlp`
  const project = (which: 'gate' | 'up' | 'down', input: string): string =>
    linear(context, `${scope}/${which}_proj`, input, `${hf}.${which}_proj`)
  const gate = project('gate', normed)
  const activated =
    context.config.hiddenActivation === 'gelu_tanh'
      ? primitiveGeluTanh(context, `${scope}/act_fn`, gate)
      : emit(context, `${scope}/act_fn`, 'Mul', [gate, emit(context, `${scope}/act_fn`, 'Sigmoid', [gate])])
  const up = project('up', normed)
  const neurons = emit(context, scope, 'Mul', [activated, up])
  return project('down', neurons)
}

/** cos and sin `[B, 1, S, headDim]` at position_ids from full-width tables named `${name}.{cos,sin}`. */
function rotaryAt(context: DecoderContext, name: string, local: boolean): { cos: string; sin: string } {
  const { config, weights } = context
  const tables = ropeTables(config, local)
  const scope = `/${name.replace('.', '/')}`
  const axis1 = context.constants.int64([1])
  const gathered = (kind: 'cos' | 'sin'): string => {
    const table = weights.computed(
      `${name}.${kind}`,
      [tables.positions, config.headDim],
      fullWidth(tables[kind], tables.positions, tables.half),
    )
    return emit(context, scope, 'Unsqueeze', [
      emit(context, scope, 'Gather', [table, context.inputs.positionIds]),
      axis1,
    ])
  }
  return { cos: gathered('cos'), sin: gathered('sin') }
}

/** RMSNorm of `input` with HF weight `${hf}.${norm}.weight`, scoped `${scope}/${norm}`. */
function namedNorm(context: DecoderContext, layer: number, norm: string, input: string): string {
  const name = `model.layers.${layer}.${norm}.weight`
  return rmsNorm(context, `/model/layers.${layer}/${norm}`, input, context.weights.asIs(name, name))
}

/** Emit the Optimum-family decoder into `context.graph` (inputs, outputs and attention bias already present). */
export function buildOptimumFamily(context: DecoderContext): void {
  const { config, weights } = context
  const globalRotary = rotaryAt(context, 'model.rotary_emb', false)
  const localRotary = needsLocalRope(config) ? rotaryAt(context, 'model.rotary_emb_local', true) : undefined
  let residual = scaledEmbedding(context, '/model/embed_tokens', embeddingLookup(context))
  const sandwich = config.sandwichNorms === true
  for (let layer = 0; layer < config.numLayers; layer++) {
    const hf = `model.layers.${layer}`
    const scope = `/model/layers.${layer}`
    const rotary = usesLocalRope(config, layer) && localRotary !== undefined ? localRotary : globalRotary
    const heads = selfAttention(
      context,
      layer,
      namedNorm(context, layer, 'input_layernorm', residual),
      rotary,
    )
    const projected = linear(context, `${scope}/self_attn/o_proj`, heads, `${hf}.self_attn.o_proj`)
    // Gemma normalizes the attention output before the residual add; that normed tensor is attn_out.
    const attentionOut = sandwich
      ? namedNorm(context, layer, 'post_attention_layernorm', projected)
      : projected
    const middle = emit(context, scope, 'Add', [residual, attentionOut])
    const down = mlp(context, layer, namedNorm(context, layer, mlpInputNormName(config), middle))
    const mlpOut = sandwich ? namedNorm(context, layer, 'post_feedforward_layernorm', down) : down
    residual = emit(context, scope, 'Add', [middle, mlpOut])
  }
  const finalNormed = rmsNorm(
    context,
    '/model/norm',
    residual,
    weights.asIs('model.norm.weight', 'model.norm.weight'),
  )
  const kept = keptPositions(context.graph, context.constants, context.inputs, finalNormed)
  const cap = config.finalLogitSoftcap
  const logits = emitLinear(
    context,
    context.graph.uniqueName('/lm_head/MatMul'),
    kept,
    'lm_head.MatMul.weight',
    config.tieWordEmbeddings ? embeddingWeight : 'lm_head.weight',
    cap === undefined ? [graphOutputs.logits] : undefined,
  )
  if (cap !== undefined) softcap(context, '/lm_head/softcap', logits, cap, [graphOutputs.logits])
}
