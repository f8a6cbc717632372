/**
 * HPR's angle networks of all trained layers stacked into one set of tensors (METHODS.md §2.3–2.4): Linear i of
 * every layer is one weight [layers, in, out] and one bias [layers, 1, out], so a training step is a few batched
 * MatMuls and one AdamW update per stacked tensor (8 updates instead of 8 per layer: about 155 nodes a step instead
 * of about 725; no faster per step on the development machine, README "Fit cost"). The layers stay independent: every product is batched over the leading layer axis, the loss is a
 * sum of per-layer terms and AdamW is element-wise, so each layer's slice follows exactly its own network's
 * gradients (test/methods/hpr-training-path.test.ts trains them against networks trained one by one).
 *
 * The weights are stored transposed ([in, out], not PyTorch's [out, in]) so the forward product needs no
 * transpose of 2.6 M weights a step; `stackAngleNetworks` / `unstackAngleNetwork` convert from and to the edit's
 * layout once at the start and at each kept epoch.
 *
 * Inputs: input [layers, rows, width] (a⁺ rows then a⁻ rows of each layer), target [layers, rows], weight
 * [layers, rows] (1 / (kept rows · layers), 0 for dropped rows), the stacked parameters, and (mode 'train') their
 * moments and the optimizer scalars (graph-pieces.ts); per unrolled step the batch inputs are named with
 * `stepInput`. Outputs: loss per step [] (summed over layers), every parameter's .next/.first.next/.second.next.
 * The evaluation graph maps input [layers, rows, width] to angle [layers, rows].
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
import type { GraphParameter } from './graph-session.ts'

/** Names of the stacked graphs' inputs, parameters and outputs. */
export const stackedAngleNames = {
  input: 'input',
  target: 'target',
  weight: 'weight',
  linearWeight: (linear: number) => `angles.weight.${linear}`,
  linearBias: (linear: number) => `angles.bias.${linear}`,
  angle: 'angle',
}

/** Every stacked parameter with its dims, weight then bias per Linear layer. */
export function stackedAngleParameters(layers: number, widths: readonly number[]): Array<[string, number[]]> {
  const parameters: Array<[string, number[]]> = []
  for (let linear = 0; linear + 1 < widths.length; linear++) {
    const input = widths[linear] as number
    const output = widths[linear + 1] as number
    parameters.push([stackedAngleNames.linearWeight(linear), [layers, input, output]])
    parameters.push([stackedAngleNames.linearBias(linear), [layers, 1, output]])
  }
  return parameters
}

/** One layer's network in the edit's layout: weight i [out, in] row-major, bias i [out]. */
export interface AngleNetworkValues {
  weights: Float32Array[]
  biases: Float32Array[]
}

/** Stack per-layer networks ([out, in] weights) into the graph's parameters ([layers, in, out] weights). */
export function stackAngleNetworks(
  networks: readonly AngleNetworkValues[],
  widths: readonly number[],
): Map<string, GraphParameter> {
  const layers = networks.length
  const parameters = new Map<string, GraphParameter>()
  for (let linear = 0; linear + 1 < widths.length; linear++) {
    const input = widths[linear] as number
    const output = widths[linear + 1] as number
    const weights = new Float32Array(layers * input * output)
    const biases = new Float32Array(layers * output)
    networks.forEach((network, slot) => {
      const source = network.weights[linear] as Float32Array
      const offset = slot * input * output
      for (let row = 0; row < output; row++) {
        for (let column = 0; column < input; column++)
          weights[offset + column * output + row] = source[row * input + column] as number
      }
      biases.set(network.biases[linear] as Float32Array, slot * output)
    })
    parameters.set(stackedAngleNames.linearWeight(linear), {
      values: weights,
      dims: [layers, input, output],
    })
    parameters.set(stackedAngleNames.linearBias(linear), { values: biases, dims: [layers, 1, output] })
  }
  return parameters
}

/** Layer `slot`'s network out of the stacked parameters, back in the edit's layout (copies). */
export function unstackAngleNetwork(
  parameters: ReadonlyMap<string, GraphParameter>,
  slot: number,
  widths: readonly number[],
): AngleNetworkValues {
  const weights: Float32Array[] = []
  const biases: Float32Array[] = []
  for (let linear = 0; linear + 1 < widths.length; linear++) {
    const input = widths[linear] as number
    const output = widths[linear + 1] as number
    const stacked = parameters.get(stackedAngleNames.linearWeight(linear))?.values
    const bias = parameters.get(stackedAngleNames.linearBias(linear))?.values
    if (stacked === undefined || bias === undefined) throw new RangeError(`no stacked Linear ${linear}`)
    const offset = slot * input * output
    const weight = new Float32Array(output * input)
    for (let column = 0; column < input; column++) {
      for (let row = 0; row < output; row++)
        weight[row * input + column] = stacked[offset + column * output + row] as number
    }
    weights.push(weight)
    biases.push(bias.slice(slot * output, (slot + 1) * output))
  }
  return { weights, biases }
}

/** What the backward pass needs from the forward pass. */
interface ForwardSaved {
  /** Input of each Linear layer [layers, rows, in]. */
  inputs: string[]
  gelus: GeluSaved[]
  /** sigmoid(MLP(a)) [layers, rows]. */
  sigmoid: string
}

function current(parameters: ReadonlyMap<string, string>, name: string): string {
  const tensor = parameters.get(name)
  if (tensor === undefined) throw new RangeError(`no tensor for parameter ${name}`)
  return tensor
}

/** π·sigmoid(MLP(x)) for every layer at once: x [layers, rows, width] → [layers, rows]. */
function stackedForward(
  ops: GraphOps,
  widths: readonly number[],
  parameters: ReadonlyMap<string, string>,
  x: string,
): { angle: string; saved: ForwardSaved } {
  const inputs: string[] = []
  const gelus: GeluSaved[] = []
  let hidden = x
  const linears = widths.length - 1
  for (let linear = 0; linear < linears; linear++) {
    inputs.push(hidden)
    const weight = current(parameters, stackedAngleNames.linearWeight(linear))
    const bias = current(parameters, stackedAngleNames.linearBias(linear))
    // [layers, rows, in] · [layers, in, out] + [layers, 1, out] → [layers, rows, out]
    const product = ops.add(ops.matmul(hidden, weight), bias)
    if (linear === linears - 1) {
      hidden = product
    } else {
      const activation = gelu(ops, product)
      gelus.push(activation.saved)
      hidden = activation.output
    }
  }
  // [layers, rows, 1] → [layers, rows]
  const sigmoid = ops.op('Sigmoid', [ops.reshape(hidden, [0, -1])])
  return { angle: ops.scale(sigmoid, Math.PI), saved: { inputs, gelus, sigmoid } }
}

/** The loss of one step (summed over layers) and the gradients of every stacked parameter. */
function stackedLossAndGradients(
  ops: GraphOps,
  widths: readonly number[],
  parameters: ReadonlyMap<string, string>,
  batch: { x: string; target: string; rowWeights: string },
): { loss: string; gradients: Map<string, string> } {
  const forward = ops.scoped('angles/forward', () => stackedForward(ops, widths, parameters, batch.x))
  const residual = ops.sub(forward.angle, batch.target)
  const loss = ops.scoped('angles/loss', () =>
    ops.op('ReduceSum', [ops.mul(ops.mul(residual, residual), batch.rowWeights)], { keepdims: 0 }),
  )
  const gradients = ops.scoped('angles/backward', () => {
    // d/dz of w·(π·σ(z) − t)² = 2w·(f − t)·π·σ(z)(1 − σ(z))   [layers, rows] → [layers, rows, 1].
    const sigmoid = forward.saved.sigmoid
    const slope = ops.mul(sigmoid, ops.sub(ops.scalar(1), sigmoid))
    const dAngle = ops.mul(ops.scale(residual, 2 * Math.PI), batch.rowWeights)
    let dProduct = ops.reshape(ops.mul(dAngle, slope), [0, -1, 1])
    const result = new Map<string, string>()
    for (let linear = widths.length - 2; linear >= 0; linear--) {
      const input = forward.saved.inputs[linear] as string
      const weightName = stackedAngleNames.linearWeight(linear)
      // [layers, in, rows] · [layers, rows, out] → [layers, in, out]
      result.set(weightName, ops.matmul(ops.transpose(input, [0, 2, 1]), dProduct))
      result.set(stackedAngleNames.linearBias(linear), ops.reduceSum(dProduct, [1], true))
      if (linear > 0) {
        // [layers, rows, out] · [layers, out, in] → [layers, rows, in]
        const weight = current(parameters, weightName)
        const dHidden = ops.matmul(dProduct, ops.transpose(weight, [0, 2, 1]))
        dProduct = geluBackward(ops, forward.saved.gelus[linear - 1] as GeluSaved, dHidden)
      }
    }
    return result
  })
  return { loss, gradients }
}

/** Sizes and numerics of a stacked angle training graph. */
export interface StackedAngleGraphOptions {
  layers: number
  /** Widths input first: [width, …, 1]. */
  widths: readonly number[]
  floatType: FloatType
  adamW: AdamWConstants
  /** Optimizer steps unrolled in one run. */
  steps: number
}

/**
 * Build the stacked training graph: `steps` optimizer steps unrolled, each reading its own batch inputs and
 * scalars (named with `stepInput`) and outputting its loss as `stepInput('loss', step)`.
 */
export function buildStackedAngleTrainingGraph(options: StackedAngleGraphOptions): ModelProto {
  const { layers, widths, floatType, steps } = options
  const ops = new GraphOps(floatType)
  const builder = ops.builder
  const width = widths[0] as number
  declareOptimizerInputs(ops, steps)
  const dims = new Map<string, number[]>()
  const parameters = new Map<string, string>()
  const states = new Map<string, OptimizerState>()
  for (const [name, shape] of stackedAngleParameters(layers, widths)) {
    dims.set(name, shape)
    parameters.set(name, builder.input(name, floatType, shape))
    states.set(name, declareOptimizerState(ops, name, shape))
  }
  for (let step = 0; step < steps; step++) {
    const rows = `rows_${step}`
    const batch = {
      x: builder.input(stepInput(stackedAngleNames.input, step), floatType, [layers, rows, width]),
      target: builder.input(stepInput(stackedAngleNames.target, step), floatType, [layers, rows]),
      rowWeights: builder.input(stepInput(stackedAngleNames.weight, step), floatType, [layers, rows]),
    }
    const result = ops.scoped(`step.${step}`, () => stackedLossAndGradients(ops, widths, parameters, batch))
    builder.output(ops.identity(result.loss, stepInput('loss', step)), floatType, [])
    for (const [name, gradient] of result.gradients) {
      const state = { ...(states.get(name) as OptimizerState), parameter: current(parameters, name) }
      const next = ops.scoped(`step.${step}/${name}/optimizer`, () =>
        adamWStep(ops, state, gradient, options.adamW, step),
      )
      parameters.set(name, next.parameter)
      states.set(name, next)
    }
  }
  for (const [name, state] of states) outputOptimizerState(ops, name, state, dims.get(name) as number[])
  return builder.toModel({ producerName: 'tiller-hpr-stacked-angle' })
}

/** Build the forward-only graph: input [layers, rows, width] and the stacked parameters → angle [layers, rows]. */
export function buildStackedAngleEvaluationGraph(layers: number, widths: readonly number[]): ModelProto {
  const ops = new GraphOps('float32')
  const builder = ops.builder
  const x = builder.input(stackedAngleNames.input, 'float32', [layers, 'rows', widths[0] as number])
  const parameters = new Map<string, string>()
  for (const [name, dims] of stackedAngleParameters(layers, widths))
    parameters.set(name, builder.input(name, 'float32', dims))
  const forward = ops.scoped('angles/forward', () => stackedForward(ops, widths, parameters, x))
  builder.output(ops.identity(forward.angle, stackedAngleNames.angle), 'float32', [layers, 'rows'])
  return builder.toModel({ producerName: 'tiller-hpr-stacked-angle-evaluation' })
}
