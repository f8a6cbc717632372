/**
 * HPR's angle-network training step with each layer's network as its own set of tensors (METHODS.md §2.3–2.4):
 * the gradient graph the tests check against float64 finite differences and train the stacked networks against
 * (training itself runs stacked-angle-graph.ts), and the per-layer training graph `hpr-train --profile` compares.
 * f_angle(a) = π·sigmoid(MLP(a)), MLP = Linear → GELU → … → Linear with widths `widths` (d → d/2 → d/4 → d/8 → 1),
 * loss = weighted squared error against the target angles. Each layer's network is unrolled with 2-D Gemm nodes
 * (weights in PyTorch's [out, in] layout, so the trained arrays are the edit's `angleWeights` as they are).
 *
 * Inputs, for each trained layer j:
 *   input.j     float [rows, width]  activations (a⁺ then a⁻ of a batch's pairs)
 *   target.j    float [rows]         target angles: g(a⁻, a⁺) for a⁻, g(a⁺, a⁺) ≈ 0 for a⁺
 *   weight.j    float [rows]         loss weight of each row: 1 / (kept rows · layers), 0 for dropped rows
 *   angle.j.weight.i [widths[i+1], widths[i]], angle.j.bias.i [widths[i+1]]
 *   (mode 'train') each parameter's .first/.second and the optimizer scalars (graph-pieces.ts)
 * Outputs: loss [] = Σ weight·(f_angle − target)² (per step, see buildAngleTrainingGraph); mode 'train': every
 * parameter's .next/.first.next/.second.next after the last step;
 * mode 'gradients': gradient.<parameter>. The evaluation graph maps input.j [rows, width] to angle.j [rows].
 */
import type { ModelProto } from '../../onnx/proto.ts'
import { GraphOps, type FloatType } from '../../onnx/graph-ops.ts'
import {
  adamWStep,
  declareOptimizerInputs,
  declareOptimizerState,
  gelu,
  geluBackward,
  outputOptimizerState,
  stepInput,
  type AdamWConstants,
  type GeluSaved,
  type OptimizerState,
} from './graph-pieces.ts'
import { gradientOutput, type TrainingGraphMode } from './probe-graph.ts'

/** Sizes and numerics of an angle graph. */
export interface AngleGraphOptions {
  /** How many layers' networks the graph trains at once. */
  layers: number
  /** Widths input first: [width, …, 1]. */
  widths: readonly number[]
  floatType: FloatType
  mode: TrainingGraphMode
  adamW: AdamWConstants
  /** Optimizer steps unrolled in one run (mode 'train'; default 1). */
  steps?: number
}

/** Names of the angle graphs' inputs, parameters and outputs for trained layer `slot`. */
export const angleNames = {
  input: (slot: number) => `input.${slot}`,
  target: (slot: number) => `target.${slot}`,
  weight: (slot: number) => `weight.${slot}`,
  linearWeight: (slot: number, linear: number) => `angle.${slot}.weight.${linear}`,
  linearBias: (slot: number, linear: number) => `angle.${slot}.bias.${linear}`,
  angle: (slot: number) => `angle.${slot}`,
}

/** Every parameter of slot `slot` with its dims, weights and biases interleaved per Linear layer. */
export function angleParameters(slot: number, widths: readonly number[]): Array<[string, number[]]> {
  const parameters: Array<[string, number[]]> = []
  for (let linear = 0; linear + 1 < widths.length; linear++) {
    const input = widths[linear] as number
    const output = widths[linear + 1] as number
    parameters.push([angleNames.linearWeight(slot, linear), [output, input]])
    parameters.push([angleNames.linearBias(slot, linear), [output]])
  }
  return parameters
}

interface ForwardSaved {
  /** Input of each Linear layer [rows, in]. */
  inputs: string[]
  gelus: GeluSaved[]
  /** sigmoid(MLP(a)) [rows]. */
  sigmoid: string
}

/** The tensors holding the current parameters of one network, by parameter name. */
type CurrentParameters = Map<string, string>

function current(parameters: CurrentParameters, name: string): string {
  const tensor = parameters.get(name)
  if (tensor === undefined) throw new RangeError(`no tensor for parameter ${name}`)
  return tensor
}

/** π·sigmoid(MLP(x)): x [rows, width] → [rows]. */
function angleForward(
  ops: GraphOps,
  slot: number,
  widths: readonly number[],
  parameters: CurrentParameters,
  x: string,
): { angle: string; saved: ForwardSaved } {
  const inputs: string[] = []
  const gelus: GeluSaved[] = []
  let hidden = x
  const linears = widths.length - 1
  for (let linear = 0; linear < linears; linear++) {
    inputs.push(hidden)
    const weight = current(parameters, angleNames.linearWeight(slot, linear))
    const bias = current(parameters, angleNames.linearBias(slot, linear))
    const product = ops.op('Gemm', [hidden, weight, bias], { transB: 1 })
    if (linear === linears - 1) {
      hidden = product
    } else {
      const activation = gelu(ops, product)
      gelus.push(activation.saved)
      hidden = activation.output
    }
  }
  const sigmoid = ops.op('Sigmoid', [ops.reshape(hidden, [-1])])
  return { angle: ops.scale(sigmoid, Math.PI), saved: { inputs, gelus, sigmoid } }
}

/** One slot's loss and gradients on one batch: forward, weighted squared error, hand-derived backward. */
function lossAndGradients(
  ops: GraphOps,
  slot: number,
  widths: readonly number[],
  parameters: CurrentParameters,
  batch: { x: string; target: string; rowWeights: string },
): { loss: string; gradients: Map<string, string> } {
  const forward = ops.scoped(`angle.${slot}/forward`, () =>
    angleForward(ops, slot, widths, parameters, batch.x),
  )
  const residual = ops.sub(forward.angle, batch.target)
  const loss = ops.scoped(`angle.${slot}/loss`, () =>
    ops.op('ReduceSum', [ops.mul(ops.mul(residual, residual), batch.rowWeights)], { keepdims: 0 }),
  )
  const gradients = ops.scoped(`angle.${slot}/backward`, () => {
    // d/dz of w·(π·σ(z) − t)² = 2w·(f − t)·π·σ(z)(1 − σ(z))   [rows] → [rows, 1].
    const sigmoid = forward.saved.sigmoid
    const slope = ops.mul(sigmoid, ops.sub(ops.scalar(1), sigmoid))
    const dAngle = ops.mul(ops.scale(residual, 2 * Math.PI), batch.rowWeights)
    let dProduct = ops.reshape(ops.mul(dAngle, slope), [-1, 1])
    const result = new Map<string, string>()
    for (let linear = widths.length - 2; linear >= 0; linear--) {
      const input = forward.saved.inputs[linear] as string
      const weightName = angleNames.linearWeight(slot, linear)
      result.set(weightName, ops.matmulTransposeA(dProduct, input))
      result.set(angleNames.linearBias(slot, linear), ops.reduceSum(dProduct, [0], false))
      if (linear > 0) {
        const dHidden = ops.matmul(dProduct, current(parameters, weightName))
        dProduct = geluBackward(ops, forward.saved.gelus[linear - 1] as GeluSaved, dHidden)
      }
    }
    return result
  })
  return { loss, gradients }
}

/**
 * Build the angle networks' training graph: `steps` optimizer steps unrolled (mode 'train'; each step reads its
 * own batch inputs and scalars, named with `stepInput`, and outputs its loss as `stepInput('loss', step)`), or one
 * forward/backward pass with gradient outputs (mode 'gradients'). Unrolling saves feeding the parameters and
 * moments in and reading them back at every step, the dominant cost for wide networks and small batches.
 */
export function buildAngleTrainingGraph(options: AngleGraphOptions): ModelProto {
  const { layers, widths, floatType } = options
  const steps = options.mode === 'train' ? (options.steps ?? 1) : 1
  const ops = new GraphOps(floatType)
  const builder = ops.builder
  const width = widths[0] as number
  if (options.mode === 'train') declareOptimizerInputs(ops, steps)
  const dims = new Map<string, number[]>()
  const parameters = new Map<string, string>()
  const states = new Map<string, OptimizerState>()
  for (let slot = 0; slot < layers; slot++) {
    for (const [name, shape] of angleParameters(slot, widths)) {
      dims.set(name, shape)
      parameters.set(name, builder.input(name, floatType, shape))
      if (options.mode === 'train') states.set(name, declareOptimizerState(ops, name, shape))
    }
  }
  for (let step = 0; step < steps; step++) {
    let total: string | undefined
    const gradients = new Map<string, string>()
    for (let slot = 0; slot < layers; slot++) {
      const batch = {
        x: builder.input(stepInput(angleNames.input(slot), step), floatType, [`rows_${step}`, width]),
        target: builder.input(stepInput(angleNames.target(slot), step), floatType, [`rows_${step}`]),
        rowWeights: builder.input(stepInput(angleNames.weight(slot), step), floatType, [`rows_${step}`]),
      }
      const result = ops.scoped(`step.${step}`, () => lossAndGradients(ops, slot, widths, parameters, batch))
      total = total === undefined ? result.loss : ops.add(total, result.loss)
      for (const [name, gradient] of result.gradients) gradients.set(name, gradient)
    }
    if (total === undefined) throw new RangeError('an angle graph needs at least one layer')
    builder.output(ops.identity(total, stepInput('loss', step)), floatType, [])
    for (const [name, gradient] of gradients) {
      const shape = dims.get(name) as number[]
      if (options.mode === 'gradients') {
        builder.output(ops.identity(gradient, gradientOutput(name)), floatType, shape)
        continue
      }
      const state = { ...(states.get(name) as OptimizerState), parameter: current(parameters, name) }
      const next = ops.scoped(`step.${step}/${name}/optimizer`, () =>
        adamWStep(ops, state, gradient, options.adamW, step),
      )
      parameters.set(name, next.parameter)
      states.set(name, next)
    }
  }
  if (options.mode === 'train') {
    for (const [name, state] of states) outputOptimizerState(ops, name, state, dims.get(name) as number[])
  }
  return builder.toModel({ producerName: 'tiller-hpr-angle' })
}

/** Build the forward-only graph: input.j [rows, width] and the parameters → angle.j [rows] in (0, π). */
export function buildAngleEvaluationGraph(layers: number, widths: readonly number[]): ModelProto {
  const ops = new GraphOps('float32')
  const builder = ops.builder
  for (let slot = 0; slot < layers; slot++) {
    const x = builder.input(angleNames.input(slot), 'float32', ['rows', widths[0] as number])
    const parameters = new Map<string, string>()
    for (const [name, dims] of angleParameters(slot, widths))
      parameters.set(name, builder.input(name, 'float32', dims))
    const forward = ops.scoped(`angle.${slot}/forward`, () => angleForward(ops, slot, widths, parameters, x))
    builder.output(ops.identity(forward.angle, angleNames.angle(slot)), 'float32', ['rows'])
  }
  return builder.toModel({ producerName: 'tiller-hpr-angle-evaluation' })
}
