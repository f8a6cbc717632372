import type { GraphIndex } from '../../onnx/graph-index.ts'
import type { NodeProto } from '../../onnx/proto.ts'

/**
 * Gemma 2/3 normalize each sub-layer output before the residual add (post_attention_layernorm,
 * post_feedforward_layernorm). The locator's forward walk from o_proj / down_proj to the residual join passes
 * through such a norm: a fused node (SimplifiedLayerNormalization, builder family) or the decomposed RMSNorm of
 * the Optimum family, where the input fans out to the statistics (Pow, ReduceMean, Add, Sqrt, Div or Reciprocal)
 * and to the Mul that applies them. This finds the tensor after the normalization so the walk can go on; the
 * weight multiply after it is ordinary pass-through arithmetic.
 */

/** Fused norms a sub-layer output may pass through on its single data input. */
export const normalizationOps = new Set([
  'SimplifiedLayerNormalization',
  'LayerNormalization',
  'RMSNormalization',
])

/** Ops a decomposed RMSNorm computes its statistics with. */
const statisticsOps = new Set(['Pow', 'Mul', 'ReduceMean', 'Add', 'Sqrt', 'Div', 'Reciprocal', 'Cast'])

/** How many nodes the backward search over the statistics visits at most. */
const statisticsLimit = 10

/**
 * Nodes visited searching back from `tensor` through statistics ops, and whether the search reached `source`.
 */
function statisticsOf(
  index: GraphIndex,
  tensor: string,
  source: string,
): { reaches: boolean; nodes: Set<NodeProto> } {
  const pending = [tensor]
  const nodes = new Set<NodeProto>()
  let reaches = false
  while (pending.length > 0 && nodes.size < statisticsLimit) {
    const current = pending.shift() ?? ''
    if (current === source) {
      reaches = true
      continue
    }
    const producer = index.producer(current)
    if (producer === undefined || nodes.has(producer) || !statisticsOps.has(producer.opType)) continue
    nodes.add(producer)
    pending.push(...producer.input.filter((input) => input !== ''))
  }
  return { reaches, nodes }
}

/**
 * The normalized tensor x·inverse_rms(x) when `tensor`'s consumers are exactly a decomposed RMSNorm of it, else
 * undefined.
 */
export function decomposedNormOutput(index: GraphIndex, tensor: string): string | undefined {
  const consumers = index.consumers(tensor)
  for (const candidate of consumers) {
    if (candidate.opType !== 'Mul' || candidate.input.length !== 2) continue
    const at = candidate.input.indexOf(tensor)
    const other = candidate.input[1 - at]
    if (at < 0 || other === undefined || other === tensor) continue
    const statistics = statisticsOf(index, other, tensor)
    const rest = consumers.filter((consumer) => consumer !== candidate)
    if (statistics.reaches && rest.length > 0 && rest.every((consumer) => statistics.nodes.has(consumer))) {
      return candidate.output[0]
    }
  }
  return undefined
}
