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

/** One part of a fused projection: its initializer name and HF source weight `[out, in]`. */
export interface LinearPart {
  initializer: string
  source: string
}

/**
 * Linear projections of the same input as ONE MatMul over the parts' weights joined on the output axis, split
 * back into one `[B, S, out_i]` tensor per part (in order). Fewer, wider products cost fewer kernel launches and
 * thread-pool dispatches per decode step. The weights stay separate initializers: the Concat joining them reads
 * initializers only, so ONNX Runtime folds it into one constant when the session is created. Quantized exports
 * keep one MatMulNBits per part (their parts may differ in bits). `name` ends in `/MatMul`.
 */
export function emitFusedLinear(
  context: DecoderContext,
  name: string,
  input: string,
  parts: LinearPart[],
  separateNames: string[],
): string[] {
  const { graph, weights } = context
  if (weights.quantBits !== undefined) {
    return parts.map((part, index) =>
      emitLinear(context, separateNames[index] as string, input, part.initializer, part.source),
    )
  }
  const joined = graph.node1({
    op: 'Concat',
    name: name.replace(/MatMul$/, 'weight/Concat'),
    inputs: parts.map((part) => weights.transposed(part.initializer, part.source)),
    attributes: { axis: 1 },
  }) // [in, Σ out_i]
  const fused = graph.node1({ op: 'MatMul', name, inputs: [input, joined] }) // [B, S, Σ out_i]
  return graph.node({
    op: 'Split',
    name: name.replace(/MatMul$/, 'Split'),
    inputs: [fused, context.constants.int64(parts.map((part) => weights.rowsOf(part.source)))],
    outputs: parts.map((_, index) => `${name.replace(/MatMul$/, 'Split')}/output_${index}`),
    attributes: { axis: -1 },
  })
}
