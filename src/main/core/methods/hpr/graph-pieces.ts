/**
 * Graph pieces shared by HPR's training graphs (probe and angle network): GELU in its erf form with its
 * derivative, a stable softplus, and the AdamW update, all written as ONNX nodes so the whole step (forward,
 * hand-derived backward, optimizer) runs inside ONNX Runtime.
 */
import type { GraphOps } from '../../onnx/graph-ops.ts'

/**
 * Names of the per-step scalar inputs the AdamW update reads (`optimizerScalars` computes them). PyTorch's update
 * p − (lr/b₁)·m / (sqrt(v)/sqrt(b₂) + ε), bias corrections bᵢ = 1 − βᵢᵗ, with the moments kept unscaled,
 * M = m/(1 − β₁) and V = v/(1 − β₂), so that M' = β₁M + g and V' = β₂V + g² take a pass fewer each over the
 * parameters, and the step rearranged as p − stepSize·M / (sqrt(V) + ε̂). Ten passes a step without weight decay
 * instead of twelve: the update is memory-bound, so its passes are its cost.
 */
export const optimizerInputs = {
  /** lr·(1 − β₁)·sqrt(b₂) / (b₁·sqrt(1 − β₂)) */
  stepSize: 'step_size',
  /** ε·sqrt(b₂)/sqrt(1 − β₂) */
  epsilon: 'scaled_epsilon',
  /** 1 − lr·λ, the decoupled weight decay's factor. */
  decay: 'decay_factor',
} as const

/** The optimizer scalars of 1-based step `step` at `learningRate`. */
export function optimizerScalars(
  constants: AdamWConstants,
  step: number,
  learningRate: number,
): Record<(typeof optimizerInputs)[keyof typeof optimizerInputs], number> {
  const firstCorrection = 1 - constants.beta1 ** step
  const secondRoot = Math.sqrt(1 - constants.beta2 ** step)
  // V = v/(1 − β₂): sqrt(v) = sqrt(1 − β₂)·sqrt(V), divided out of the denominator into both scalars.
  const secondScale = Math.sqrt(1 - constants.beta2)
  return {
    [optimizerInputs.stepSize]:
      (learningRate * (1 - constants.beta1) * secondRoot) / (firstCorrection * secondScale),
    [optimizerInputs.epsilon]: (constants.epsilon * secondRoot) / secondScale,
    [optimizerInputs.decay]: 1 - learningRate * constants.weightDecay,
  }
}

/**
 * The name of per-step input `name` for the `step`-th of several optimizer steps unrolled in one graph: the name
 * itself for the first step, `name#step` after it.
 */
export function stepInput(name: string, step: number): string {
  return step === 0 ? name : `${name}#${step}`
}

/** AdamW constants baked into the graph. */
export interface AdamWConstants {
  beta1: number
  beta2: number
  epsilon: number
  weightDecay: number
}

/** Graph input names of a parameter's optimizer state and output names of its updated values. */
export function stateNames(parameter: string): {
  first: string
  second: string
  next: string
  nextFirst: string
  nextSecond: string
} {
  return {
    first: `${parameter}.first`,
    second: `${parameter}.second`,
    next: `${parameter}.next`,
    nextFirst: `${parameter}.first.next`,
    nextSecond: `${parameter}.second.next`,
  }
}

/** Declare the three optimizer scalars of each of `steps` unrolled steps as graph inputs. */
export function declareOptimizerInputs(ops: GraphOps, steps = 1): void {
  for (let step = 0; step < steps; step++) {
    for (const name of Object.values(optimizerInputs))
      ops.builder.input(stepInput(name, step), ops.floatType, [])
  }
}

/** A parameter and its two moments, as tensor names inside a graph. */
export interface OptimizerState {
  parameter: string
  first: string
  second: string
}

/** Declare the moment inputs of `parameter` (itself already an input). */
export function declareOptimizerState(
  ops: GraphOps,
  parameter: string,
  dims: readonly number[],
): OptimizerState {
  const names = stateNames(parameter)
  return {
    parameter,
    first: ops.builder.input(names.first, ops.floatType, dims),
    second: ops.builder.input(names.second, ops.floatType, dims),
  }
}

/**
 * One AdamW update (decoupled weight decay, as PyTorch's AdamW) with the scalars of unrolled step `step`, on the
 * unscaled moments (see `optimizerInputs`): M' = β₁M + g, V' = β₂V + g², p' = p·(1 − lr·λ) − stepSize · M' /
 * (sqrt(V') + ε̂).
 */
export function adamWStep(
  ops: GraphOps,
  state: OptimizerState,
  gradient: string,
  constants: AdamWConstants,
  step = 0,
): OptimizerState {
  const first = ops.add(ops.scale(state.first, constants.beta1), gradient)
  const second = ops.add(ops.scale(state.second, constants.beta2), ops.mul(gradient, gradient))
  const denominator = ops.add(ops.op('Sqrt', [second]), stepInput(optimizerInputs.epsilon, step))
  const update = ops.mul(ops.op('Div', [first, denominator]), stepInput(optimizerInputs.stepSize, step))
  const decayed =
    constants.weightDecay === 0
      ? state.parameter
      : ops.mul(state.parameter, stepInput(optimizerInputs.decay, step))
  return { parameter: ops.sub(decayed, update), first, second }
}

/** Output the final state of `parameter` as `.next`, `.first.next`, `.second.next`. */
export function outputOptimizerState(
  ops: GraphOps,
  parameter: string,
  state: OptimizerState,
  dims: readonly number[],
): void {
  const names = stateNames(parameter)
  for (const [value, name] of [
    [state.parameter, names.next],
    [state.first, names.nextFirst],
    [state.second, names.nextSecond],
  ] as const) {
    ops.builder.output(ops.identity(value, name), ops.floatType, dims)
  }
}

/**
 * erf(x). float32 graphs use ONNX's Erf; ONNX Runtime has no float64 Erf, so float64 graphs (gradient checks)
 * evaluate erf(x) = (2/√π)·e^{−x²}·Σₙ 2ⁿx^{2n+1}/(2n+1)!!, a series of positive terms (no cancellation) accurate to
 * double precision for |x| ≤ 6, with x clamped there (erf(±6) rounds to ±1 in float64).
 */
function erf(ops: GraphOps, x: string): string {
  if (ops.floatType === 'float32') return ops.op('Erf', [x])
  const clamped = ops.op('Clip', [x, ops.scalar(-6), ops.scalar(6)])
  const square = ops.mul(clamped, clamped)
  const terms = 130
  const coefficients = [1]
  for (let n = 1; n < terms; n++) coefficients.push(((coefficients[n - 1] as number) * 2) / (2 * n + 1))
  // Horner: Σ cₙ yⁿ with y = x².
  let sum = ops.scalar(coefficients[terms - 1] as number)
  for (let n = terms - 2; n >= 0; n--)
    sum = ops.add(ops.mul(sum, square), ops.scalar(coefficients[n] as number))
  const gaussian = ops.op('Exp', [ops.neg(square)])
  return ops.mul(ops.mul(ops.scale(clamped, 2 / Math.sqrt(Math.PI)), gaussian), sum)
}

/** What GELU keeps for its backward pass. */
export interface GeluSaved {
  input: string
  /** Φ(x) = (1 + erf(x/√2)) / 2 */
  cumulative: string
}

/** GELU(x) = x·Φ(x), the erf form (PyTorch's default). Any shape. */
export function gelu(ops: GraphOps, x: string): { output: string; saved: GeluSaved } {
  const cumulative = ops.scale(ops.add(erf(ops, ops.scale(x, Math.SQRT1_2)), ops.scalar(1)), 0.5)
  return { output: ops.mul(x, cumulative), saved: { input: x, cumulative } }
}

/** Backward of GELU: dx = dy·(Φ(x) + x·φ(x)), φ(x) = e^{−x²/2}/√(2π). */
export function geluBackward(ops: GraphOps, saved: GeluSaved, dy: string): string {
  const x = saved.input
  const density = ops.scale(ops.op('Exp', [ops.scale(ops.mul(x, x), -0.5)]), 1 / Math.sqrt(2 * Math.PI))
  return ops.mul(dy, ops.add(saved.cumulative, ops.mul(x, density)))
}

/** softplus(x) = log(1 + eˣ) = max(x, 0) + log(1 + e^{−|x|}), stable for large |x|. Any shape. */
export function softplus(ops: GraphOps, x: string): string {
  const tail = ops.op('Log', [ops.add(ops.scalar(1), ops.op('Exp', [ops.neg(ops.op('Abs', [x]))]))])
  return ops.add(ops.op('Relu', [x]), tail)
}
