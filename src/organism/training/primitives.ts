import type { GraphOps } from '../../main/core/onnx/graph-ops.ts'

/**
 * Forward and backward graph pieces of the Llama primitives, written by hand (ONNX Runtime for Node has no
 * autodiff). Each backward takes the tensors its forward saved and the gradient of the output, and returns the
 * gradients of the inputs and weights. Rows are flattened tokens: `n = batch * sequence`.
 */

/** Tensors RMSNorm keeps for its backward pass. */
export interface NormSaved {
  /** x · r `[n, width]` */
  normalized: string
  /** r = 1 / sqrt(mean(x²) + eps) `[n, 1]` */
  inverseRms: string
}

/** y = x · r · gamma for x `[n, width]`, gamma `[width]` → `[n, width]`. */
export function rmsNorm(
  ops: GraphOps,
  x: string,
  gamma: string,
  epsilon: number,
): { output: string; saved: NormSaved } {
  const meanSquare = ops.meanLast(ops.mul(x, x))
  const inverseRms = ops.op('Reciprocal', [ops.op('Sqrt', [ops.add(meanSquare, ops.scalar(epsilon))])])
  const normalized = ops.mul(x, inverseRms)
  return { output: ops.mul(normalized, gamma), saved: { normalized, inverseRms } }
}

/**
 * Backward of RMSNorm: with x̂ = x·r and g = dy·gamma, dx = r · (g − x̂ · mean(g · x̂)), dgamma = Σ_rows dy · x̂.
 * dy `[n, width]` → dx `[n, width]`, dgamma `[width]`.
 */
export function rmsNormBackward(
  ops: GraphOps,
  saved: NormSaved,
  gamma: string,
  dy: string,
): { dx: string; dGamma: string } {
  const dGamma = ops.reduceSum(ops.mul(dy, saved.normalized), [0], false)
  const dNormalized = ops.mul(dy, gamma)
  const projection = ops.meanLast(ops.mul(dNormalized, saved.normalized))
  const dx = ops.mul(saved.inverseRms, ops.sub(dNormalized, ops.mul(saved.normalized, projection)))
  return { dx, dGamma }
}

/** y = x · Wᵀ for x `[n, in]` and an HF Linear weight W `[out, in]` → `[n, out]`. */
export function linear(ops: GraphOps, x: string, weight: string): string {
  return ops.matmulTransposeB(x, weight)
}

/** Backward of `linear`: dx = dy · W `[n, in]`, dW = dyᵀ · x `[out, in]`. */
export function linearBackward(
  ops: GraphOps,
  x: string,
  weight: string,
  dy: string,
): { dx: string; dWeight: string } {
  return { dx: ops.matmul(dy, weight), dWeight: ops.matmulTransposeA(dy, x) }
}

/**
 * rotate_half RoPE: x·cos + rotate(x)·sin with rotate([a, b]) = [−b, a] over the last axis.
 * x `[batch, heads, seq, headDim]`, cos/sin `[batch, 1, seq, headDim]` → same shape as x.
 */
export function rope(ops: GraphOps, x: string, cos: string, sin: string, headDim: number): string {
  const [first, second] = ops.splitHalves(x, headDim)
  const rotated = ops.concatLast(ops.neg(second), first)
  return ops.add(ops.mul(x, cos), ops.mul(rotated, sin))
}

/** Backward of `rope`: dx = dy·cos + rotateᵀ(dy·sin) with rotateᵀ([a, b]) = [b, −a]. Shapes as in `rope`. */
export function ropeBackward(ops: GraphOps, dy: string, cos: string, sin: string, headDim: number): string {
  const [first, second] = ops.splitHalves(ops.mul(dy, sin), headDim)
  return ops.add(ops.mul(dy, cos), ops.concatLast(second, ops.neg(first)))
}

/** Tensors attention keeps for its backward pass. */
export interface AttentionSaved {
  query: string
  key: string
  value: string
  probabilities: string
}

/**
 * softmax(q·kᵀ·scale + bias)·v. q/k/v `[batch, heads, seq, headDim]` (rotary already applied), bias
 * `[batch, 1, seq, seq]` (0 where a query may attend a key, a large negative number elsewhere) → `[batch, heads, seq, headDim]`.
 */
export function attention(
  ops: GraphOps,
  query: string,
  key: string,
  value: string,
  bias: string,
  scale: number,
): { output: string; saved: AttentionSaved } {
  const scores = ops.add(ops.scale(ops.matmul(query, ops.transpose(key, [0, 1, 3, 2])), scale), bias)
  const probabilities = ops.op('Softmax', [scores], { axis: -1 })
  return { output: ops.matmul(probabilities, value), saved: { query, key, value, probabilities } }
}

/**
 * Backward of `attention`: dP = dO·vᵀ, dS = P ⊙ (dP − Σ_k dP ⊙ P), dq = dS·k·scale, dk = dSᵀ·q·scale, dv = Pᵀ·dO.
 * dOutput `[batch, heads, seq, headDim]` → gradients of the same shape.
 */
export function attentionBackward(
  ops: GraphOps,
  saved: AttentionSaved,
  dOutput: string,
  scale: number,
): { dQuery: string; dKey: string; dValue: string } {
  const transposedProbabilities = ops.transpose(saved.probabilities, [0, 1, 3, 2])
  const dValue = ops.matmul(transposedProbabilities, dOutput)
  const dProbabilities = ops.matmul(dOutput, ops.transpose(saved.value, [0, 1, 3, 2]))
  const rowDot = ops.reduceSum(ops.mul(dProbabilities, saved.probabilities), [-1], true)
  const dScores = ops.scale(ops.mul(saved.probabilities, ops.sub(dProbabilities, rowDot)), scale)
  const dQuery = ops.matmul(dScores, saved.key)
  const dKey = ops.matmul(ops.transpose(dScores, [0, 1, 3, 2]), saved.query)
  return { dQuery, dKey, dValue }
}

/** Tensors the SwiGLU product keeps for its backward pass. */
export interface SwigluSaved {
  gate: string
  up: string
  sigmoid: string
  activation: string
}

/** silu(gate) · up for gate/up `[n, intermediate]` → `[n, intermediate]`. */
export function swiglu(ops: GraphOps, gate: string, up: string): { output: string; saved: SwigluSaved } {
  const sigmoid = ops.op('Sigmoid', [gate])
  const activation = ops.mul(gate, sigmoid)
  return { output: ops.mul(activation, up), saved: { gate, up, sigmoid, activation } }
}

/** Backward of `swiglu`: dup = dy·silu(g), dg = dy·up·σ(g)·(1 + g·(1 − σ(g))). Shapes `[n, intermediate]`. */
export function swigluBackward(
  ops: GraphOps,
  saved: SwigluSaved,
  dy: string,
): { dGate: string; dUp: string } {
  const dUp = ops.mul(dy, saved.activation)
  const oneMinusSigmoid = ops.sub(ops.scalar(1), saved.sigmoid)
  const siluSlope = ops.mul(saved.sigmoid, ops.add(ops.scalar(1), ops.mul(saved.gate, oneMinusSigmoid)))
  return { dGate: ops.mul(ops.mul(dy, saved.up), siluSlope), dUp }
}
