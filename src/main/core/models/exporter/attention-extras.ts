import { float } from '../../onnx/builder.ts'
import type { DecoderContext } from './context.ts'

/**
 * The per-family attention pieces some architectures add between the q/k/v projections and RoPE, for both graph
 * families: projection biases (Qwen 2/2.5) and per-head RMSNorm of q and k (Qwen 3). Plain Llama graphs get none
 * of these nodes.
 */

type Projection = 'q' | 'k' | 'v'

/**
 * `projected + bias` when the config has attention biases, else `projected` unchanged. `[B, S, width]` in and out;
 * the node is `{scope}/{which}_proj/Add`, as both exporters name a Linear's bias add.
 */
export function withProjectionBias(
  context: DecoderContext,
  scope: string,
  layer: number,
  which: Projection,
  projected: string,
  initializerName: string,
): string {
  if (context.config.attentionBias !== true) return projected
  const bias = context.weights.asIs(initializerName, `model.layers.${layer}.self_attn.${which}_proj.bias`)
  return context.graph.node1({
    op: 'Add',
    name: context.graph.uniqueName(`${scope}/${which}_proj/Add`),
    inputs: [projected, bias],
  })
}

/**
 * Builder family: RMSNorm of each head of `[B, S, heads·headDim]` with the shared `[headDim]` weight
 * (SimplifiedLayerNormalization over the last axis of `[B, S, heads, headDim]`), same shape out. `input` unchanged
 * when the config has no q/k norms.
 */
export function builderHeadNorm(
  context: DecoderContext,
  layer: number,
  which: 'q' | 'k',
  input: string,
  heads: number,
): string {
  const { graph, config, constants, weights } = context
  if (config.qkNorm !== true) return input
  const scope = `/model/layers.${layer}/attn/${which}_norm`
  const weight = weights.asIs(
    `model.layers.${layer}.attn.${which}_norm.weight`,
    `model.layers.${layer}.self_attn.${which}_norm.weight`,
  )
  const perHead = graph.node1({
    op: 'Reshape',
    name: `${scope}/Reshape`,
    inputs: [input, constants.int64([0, 0, heads, config.headDim])],
  }) // [B, S, heads, headDim]
  const normed = graph.node1({
    op: 'SimplifiedLayerNormalization',
    name: `${scope}/SimplifiedLayerNormalization`,
    inputs: [perHead, weight],
    attributes: { epsilon: float(config.rmsNormEps), axis: -1, stash_type: 1 },
  })
  return graph.node1({
    op: 'Reshape',
    name: `${scope}/Reshape_1`,
    inputs: [normed, constants.int64([0, 0, heads * config.headDim])],
  }) // [B, S, heads·headDim]
}
