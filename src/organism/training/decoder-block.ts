import type { GraphOps } from '../../main/core/onnx/graph-ops.ts'
import {
  attention,
  attentionBackward,
  linear,
  linearBackward,
  rmsNorm,
  rmsNormBackward,
  rope,
  ropeBackward,
  swiglu,
  swigluBackward,
  type AttentionSaved,
  type NormSaved,
  type SwigluSaved,
} from './primitives.ts'

/** Sizes a block graph is built for. Every query head has its own key/value head (no grouping). */
export interface BlockShape {
  batch: number
  sequence: number
  hidden: number
  heads: number
  headDim: number
  rmsNormEps: number
}

/** Graph tensor names of one block's weights, in Hugging Face layouts. */
export interface BlockWeights {
  inputNorm: string
  query: string
  key: string
  value: string
  output: string
  postNorm: string
  gate: string
  up: string
  down: string
}

/** Per-batch inputs shared by every block: rotary tables `[batch, 1, seq, headDim]` and attention bias `[batch, 1, seq, seq]`. */
export interface BlockContext {
  cos: string
  sin: string
  bias: string
}

/** What the forward pass keeps for the backward pass. */
export interface BlockSaved {
  input: string
  attentionNorm: NormSaved
  attentionInput: string
  attention: AttentionSaved
  headsFlat: string
  middle: string
  mlpNorm: NormSaved
  mlpInput: string
  swiglu: SwigluSaved
  product: string
}

/** Gradient tensor names of a block's weights. */
export type BlockGradients = Record<keyof BlockWeights, string>

/** `[n, hidden]` → `[batch, heads, seq, headDim]`. */
function toHeads(ops: GraphOps, shape: BlockShape, x: string): string {
  return ops.transpose(
    ops.reshape(x, [shape.batch, shape.sequence, shape.heads, shape.headDim]),
    [0, 2, 1, 3],
  )
}

/** `[batch, heads, seq, headDim]` → `[n, hidden]`. */
function fromHeads(ops: GraphOps, shape: BlockShape, x: string): string {
  return ops.reshape(ops.transpose(x, [0, 2, 1, 3]), [shape.batch * shape.sequence, shape.hidden])
}

/** One pre-norm Llama block: x `[n, hidden]` → `[n, hidden]` (n = batch · seq). */
export function blockForward(
  ops: GraphOps,
  shape: BlockShape,
  weights: BlockWeights,
  context: BlockContext,
  input: string,
): { output: string; saved: BlockSaved } {
  const scale = 1 / Math.sqrt(shape.headDim)
  const attentionNorm = rmsNorm(ops, input, weights.inputNorm, shape.rmsNormEps)
  const attentionInput = attentionNorm.output
  const heads = (weight: string): string => toHeads(ops, shape, linear(ops, attentionInput, weight))
  const query = rope(ops, heads(weights.query), context.cos, context.sin, shape.headDim)
  const key = rope(ops, heads(weights.key), context.cos, context.sin, shape.headDim)
  const value = heads(weights.value)
  const attended = attention(ops, query, key, value, context.bias, scale)
  const headsFlat = fromHeads(ops, shape, attended.output)
  const middle = ops.add(input, linear(ops, headsFlat, weights.output))
  const mlpNorm = rmsNorm(ops, middle, weights.postNorm, shape.rmsNormEps)
  const mlpInput = mlpNorm.output
  const gated = swiglu(ops, linear(ops, mlpInput, weights.gate), linear(ops, mlpInput, weights.up))
  const output = ops.add(middle, linear(ops, gated.output, weights.down))
  return {
    output,
    saved: {
      input,
      attentionNorm: attentionNorm.saved,
      attentionInput,
      attention: attended.saved,
      headsFlat,
      middle,
      mlpNorm: mlpNorm.saved,
      mlpInput,
      swiglu: gated.saved,
      product: gated.output,
    },
  }
}

/** Backward of `blockForward`: dOutput `[n, hidden]` → dInput `[n, hidden]` and the gradient of every weight. */
export function blockBackward(
  ops: GraphOps,
  shape: BlockShape,
  weights: BlockWeights,
  context: BlockContext,
  saved: BlockSaved,
  dOutput: string,
): { dInput: string; gradients: BlockGradients } {
  const scale = 1 / Math.sqrt(shape.headDim)
  const down = linearBackward(ops, saved.product, weights.down, dOutput)
  const { dGate, dUp } = swigluBackward(ops, saved.swiglu, down.dx)
  const gate = linearBackward(ops, saved.mlpInput, weights.gate, dGate)
  const up = linearBackward(ops, saved.mlpInput, weights.up, dUp)
  const mlpNorm = rmsNormBackward(ops, saved.mlpNorm, weights.postNorm, ops.add(gate.dx, up.dx))
  const dMiddle = ops.add(dOutput, mlpNorm.dx)

  const output = linearBackward(ops, saved.headsFlat, weights.output, dMiddle)
  const attended = attentionBackward(ops, saved.attention, toHeads(ops, shape, output.dx), scale)
  const flat = (x: string): string => fromHeads(ops, shape, x)
  const dQuery = flat(ropeBackward(ops, attended.dQuery, context.cos, context.sin, shape.headDim))
  const dKey = flat(ropeBackward(ops, attended.dKey, context.cos, context.sin, shape.headDim))
  const query = linearBackward(ops, saved.attentionInput, weights.query, dQuery)
  const key = linearBackward(ops, saved.attentionInput, weights.key, dKey)
  const value = linearBackward(ops, saved.attentionInput, weights.value, flat(attended.dValue))
  const dAttentionInput = ops.add(ops.add(query.dx, key.dx), value.dx)
  const attentionNorm = rmsNormBackward(ops, saved.attentionNorm, weights.inputNorm, dAttentionInput)
  return {
    dInput: ops.add(dMiddle, attentionNorm.dx),
    gradients: {
      inputNorm: attentionNorm.dGamma,
      query: query.dWeight,
      key: key.dWeight,
      value: value.dWeight,
      output: output.dWeight,
      postNorm: mlpNorm.dGamma,
      gate: gate.dWeight,
      up: up.dWeight,
      down: down.dWeight,
    },
  }
}
