import type { DecoderContext } from './context.ts'
import { accuracyLevelOf } from './weights.ts'

/**
 * One linear projection `[B, S, in]` → `[B, S, out]` of HF weight `source` (`[out, in]`): a MatMul over the
 * transposed float weight, or, in q4/q8 exports, a com.microsoft MatMulNBits over block-quantized weights
 * (quantize-blocks.ts) whose node name ends in `MatMulNBits`, as ONNX Runtime's quantizers name it; the locator
 * normalizes that suffix (locator/node-names.ts). Its accuracy_level is the export's compute (weights.ts
 * LinearCompute). `name` is the float node name, ending in `/MatMul`.
 * Returns the output tensor; `outputs` names it when given (e.g. logits).
 */
export function emitLinear(
  context: DecoderContext,
  name: string,
  input: string,
  initializer: string,
  source: string,
  outputs?: string[],
): string {
  const { graph, weights } = context
  if (weights.quantBits === undefined) {
    return graph.node1({
      op: 'MatMul',
      name,
      inputs: [input, weights.transposed(initializer, source)],
      outputs,
    })
  }
  const quantized = weights.quantized(initializer.replace(/\.weight$/, ''), source)
  return graph.node1({
    op: 'MatMulNBits',
    domain: 'com.microsoft',
    name: name.replace(/MatMul$/, 'MatMulNBits'),
    inputs: [input, quantized.weight, quantized.scales, quantized.zeroPoints],
    attributes: {
      K: quantized.columns,
      N: quantized.rows,
      bits: quantized.bits,
      block_size: 32,
      accuracy_level: accuracyLevelOf(weights.compute),
    },
    outputs,
  })
}
