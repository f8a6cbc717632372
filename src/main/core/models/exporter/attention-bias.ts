import type { GraphBuilder } from '../../onnx/builder.ts'
import { TensorElementType } from '../../onnx/proto.ts'
import type { Constants } from './constants.ts'
import type { DecoderInputs } from './decoder-io.ts'
import type { FloatType } from './weights.ts'

/**
 * The additive attention bias both families share, built once per step from attention_mask:
 *   bias[b, 0, s, t] = 0 when key slot t holds a real token of row b and t ≤ past + s (causal), else `masked`.
 * Causality is by cache slot, not by position id, so left-padded rows (pads first, positions counting real
 * tokens only) see exactly their own real tokens, the same set a one-row run sees.
 *
 * NOTE: `masked` is finite on purpose. A pad query row has every key masked; with −∞ its softmax would be NaN,
 * the NaN would reach the pad slot's cached keys/values in later layers, and every later query (even masked
 * ones: NaN·0 is NaN) would turn NaN. float32 uses its lowest value like Hugging Face; float16 uses −10⁴, because
 * fp16 score + −65504 can round to −∞.
 */
export function maskedValue(floatType: FloatType): number {
  return floatType === 'float16' ? -1e4 : -3.4028234663852886e38
}

/**
 * Build the bias `[batch, 1, sequence, total]` in the graph's float type; returns its tensor name. With a
 * `slidingWindow`, key slot t is also masked unless t > past + s − slidingWindow (Hugging Face's sliding-window
 * mask: each query sees itself and the slidingWindow − 1 slots before it).
 */
export function buildAttentionBias(
  graph: GraphBuilder,
  constants: Constants,
  inputs: DecoderInputs,
  floatType: FloatType,
  slidingWindow?: number,
): string {
  const scope = '/model/attn_mask'
  const node = (op: string, name: string, nodeInputs: string[], attributes = {}): string =>
    graph.node1({ op, name: graph.uniqueName(`${scope}/${name}`), inputs: nodeInputs, attributes })
  const axis0 = constants.int64([0])
  const sequence = node('Shape', 'Shape', [inputs.inputIds], { start: 1, end: 2 }) // [1]
  const total = node('Shape', 'Shape', [inputs.attentionMask], { start: 1, end: 2 }) // [1]
  const past = node('Sub', 'Sub', [total, sequence]) // [1]
  const totalScalar = node('Squeeze', 'Squeeze', [total, axis0])
  const pastScalar = node('Squeeze', 'Squeeze', [past, axis0])
  const one = constants.int64([1], true)
  const keySlots = node('Range', 'Range', [constants.int64([0], true), totalScalar, one]) // [total]
  const querySlots = node('Range', 'Range', [pastScalar, totalScalar, one]) // [sequence]
  const keyRow = node('Unsqueeze', 'Unsqueeze', [keySlots, axis0]) // [1, total]
  const queryColumn = node('Unsqueeze', 'Unsqueeze', [querySlots, constants.int64([1])]) // [sequence, 1]
  let causal = node('LessOrEqual', 'LessOrEqual', [keyRow, queryColumn]) // [sequence, total]
  if (slidingWindow !== undefined) {
    const windowStart = node('Sub', 'Sub', [queryColumn, constants.int64([slidingWindow], true)]) // [sequence, 1]
    const recent = node('Greater', 'Greater', [keyRow, windowStart]) // [sequence, total]
    causal = node('And', 'And', [causal, recent])
  }
  const real = node('Cast', 'Cast', [inputs.attentionMask], { to: TensorElementType.bool }) // [batch, total]
  const realKeys = node('Unsqueeze', 'Unsqueeze', [real, constants.int64([1, 2])]) // [batch, 1, 1, total]
  const allowed = node('And', 'And', [realKeys, causal]) // [batch, 1, sequence, total]
  return node('Where', 'Where', [allowed, constants.float(0), constants.float(maskedValue(floatType))])
}

/**
 * The padding part of the bias alone, repeated over the query axis (ONNX Runtime wants the mask's sequence axis
 * as long as the query's), `[batch, 1, sequence, total]`: 0 where key slot t holds a real token of row b, else
 * `masked`; for the ONNX Attention op with `is_causal`, which adds the causal part itself, aligned to the end of
 * the cache when past keys are given (query s sees slots t ≤ past + s: the rule `buildAttentionBias` builds). A
 * pad query still sees its own finite-masked slot, so no row of scores is entirely −∞. 6 nodes instead of 14.
 */
export function buildPaddingBias(
  graph: GraphBuilder,
  constants: Constants,
  inputs: DecoderInputs,
  floatType: FloatType,
): string {
  const scope = '/model/attn_mask'
  const node = (op: string, name: string, nodeInputs: string[], attributes = {}): string =>
    graph.node1({ op, name: graph.uniqueName(`${scope}/${name}`), inputs: nodeInputs, attributes })
  const sequence = node('Shape', 'Shape', [inputs.inputIds], { start: 1, end: 2 }) // [1]
  const repeats = node('Concat', 'Concat', [constants.int64([1, 1]), sequence, constants.int64([1])], {
    axis: 0,
  }) // [4]: 1, 1, sequence, 1
  const real = node('Cast', 'Cast', [inputs.attentionMask], { to: TensorElementType.bool }) // [batch, total]
  const realKeys = node('Unsqueeze', 'Unsqueeze', [real, constants.int64([1, 2])]) // [batch, 1, 1, total]
  const padding = node('Where', 'Where', [
    realKeys,
    constants.float(0),
    constants.float(maskedValue(floatType)),
  ])
  return node('Expand', 'Expand', [padding, repeats]) // [batch, 1, sequence, total]
}
