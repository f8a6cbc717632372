import { isLocalLayer, isSlidingLayer, type LlamaConfig } from '../checkpoint.ts'
import type { DecoderContext } from './context.ts'

/**
 * The pieces Gemma 2/3 add to the decoder, shared by both graph families: the embedding scale, soft-capping, the
 * attention scale from query_pre_attn_scalar, per-layer attention masks and RoPE tables (sliding and global
 * layers), and GELU's tanh approximation written in primitive ops. Other families get none of these nodes.
 */

/** The attention score scale: 1/sqrt(queryPreAttentionScalar), or 1/sqrt(headDim) without one. */
export function attentionScale(config: LlamaConfig): number {
  return 1 / Math.sqrt(config.queryPreAttentionScalar ?? config.headDim)
}

/** The additive attention bias of `layer` `[B, 1, S, T]`: the sliding one on sliding layers when both exist. */
export function attentionBiasOf(context: DecoderContext, layer: number): string {
  const local = context.localAttentionBias
  return local !== undefined && isSlidingLayer(context.config, layer) ? local : context.attentionBias
}

/** Whether `layer` uses the sliding layers' RoPE tables (localRopeTheta, Gemma 3). */
export function usesLocalRope(config: LlamaConfig, layer: number): boolean {
  return config.localRopeTheta !== undefined && isLocalLayer(config, layer)
}

/** Whether any layer uses the sliding layers' RoPE tables, so the graph needs them. */
export function needsLocalRope(config: LlamaConfig): boolean {
  return Array.from({ length: config.numLayers }, (_, layer) => usesLocalRope(config, layer)).some(Boolean)
}

/** `input` · sqrt(hidden) in the graph's float type when the config scales embeddings, else `input`. */
export function scaledEmbedding(context: DecoderContext, scope: string, input: string): string {
  const { config, constants, graph } = context
  if (config.scaledEmbedding !== true) return input
  return graph.node1({
    op: 'Mul',
    name: graph.uniqueName(`${scope}/Mul`),
    inputs: [input, constants.float(Math.sqrt(config.hiddenSize))],
  })
}

/** cap · tanh(input / cap), any shape; `outputs` names the result when given. */
export function softcap(
  context: DecoderContext,
  scope: string,
  input: string,
  cap: number,
  outputs?: string[],
): string {
  const { constants, graph } = context
  const divided = graph.node1({
    op: 'Div',
    name: graph.uniqueName(`${scope}/Div`),
    inputs: [input, constants.float(cap)],
  })
  const squashed = graph.node1({ op: 'Tanh', name: graph.uniqueName(`${scope}/Tanh`), inputs: [divided] })
  return graph.node1({
    op: 'Mul',
    name: graph.uniqueName(`${scope}/Mul`),
    inputs: [squashed, constants.float(cap)],
    outputs,
  })
}

/** GELU, tanh approximation, in primitive ops: 0.5·x·(1 + tanh(sqrt(2/π)·(x + 0.044715·x³))). Same shape out. */
export function primitiveGeluTanh(context: DecoderContext, scope: string, x: string): string {
  const { constants, graph } = context
  const node = (op: string, inputs: string[]): string =>
    graph.node1({ op, name: graph.uniqueName(`${scope}/${op}`), inputs })
  const cubed = node('Mul', [node('Mul', [x, x]), x])
  const inner = node('Add', [x, node('Mul', [cubed, constants.float(0.044715)])])
  const squashed = node('Tanh', [node('Mul', [inner, constants.float(Math.sqrt(2 / Math.PI))])])
  const half = node('Mul', [x, constants.float(0.5)])
  return node('Mul', [half, node('Add', [squashed, constants.float(1)])])
}

/** Builder family: the MLP non-linearity on gate `[B, S, intermediate]`: x·Sigmoid(x) (SiLU) or com.microsoft FastGelu (tanh GELU). */
export function builderActivation(context: DecoderContext, scope: string, gate: string): string {
  const { graph, config } = context
  if (config.hiddenActivation === 'gelu_tanh') {
    return graph.node1({ op: 'FastGelu', domain: 'com.microsoft', name: `${scope}/FastGelu`, inputs: [gate] })
  }
  const sigmoid = graph.node1({ op: 'Sigmoid', name: `${scope}/Sigmoid`, inputs: [gate] })
  return graph.node1({ op: 'Mul', name: `${scope}/Mul`, inputs: [gate, sigmoid] })
}
