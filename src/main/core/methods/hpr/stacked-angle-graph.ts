/**
 * HPR's angle networks of all trained layers stacked into one set of tensors (METHODS.md §2.3–2.4; layout and chunks in
 * stacked-angle-layout.ts), so a training step's gradients are a few batched MatMuls (AdamW runs after the graph,
 * fused-adamw.ts). The layers stay independent: every product is batched over the leading layer axis, the loss is a sum
 * of per-layer terms and AdamW is element-wise, so each layer's slice follows exactly its own network's gradients
 * (test/methods/hpr-training-path.test.ts trains them against networks trained one by one).
 *
 * Activations after the first Linear are kept transposed, [layers, features, rows], so every product has the weight as
 * its left operand: the runtime's GEMM packs only its right operand, here the few batch rows, not the weight (with the
 * weight on the right, every product began by copying all 2.6 M weights). A weight cut into chunks gets one product and
 * one gradient per chunk.
 *
 * Inputs: input [layers, rows, width] (a⁺ rows then a⁻ rows of each layer), target [layers, rows], weight [layers,
 * rows] (1 / (kept rows · layers), 0 for dropped rows) and the stacked parameters. Outputs of the gradient graph: loss
 * [] (summed over layers) and gradient.<parameter> with each parameter's dims. The evaluation graph maps input [layers,
 * rows, width] to angle [layers, rows].
 */
import type { ModelProto } from '../../onnx/proto.ts'
import { GraphOps, type FloatType } from '../../onnx/graph-ops.ts'
import { gelu, geluBackward, type GeluSaved } from './graph-pieces.ts'
import { gradientOutput } from './probe-graph.ts'
import {
  defaultChunkElements,
  stackedAngleNames,
  stackedAngleParameters,
  type StackedTensor,
} from './stacked-angle-layout.ts'

/** A Linear layer's stacked tensors. */
interface LinearTensors {
  chunks: StackedTensor[]
  bias: StackedTensor
}

function byLinear(tensors: readonly StackedTensor[], linears: number): LinearTensors[] {
  return Array.from({ length: linears }, (_, linear) => {
    const own = tensors.filter((tensor) => tensor.linear === linear)
    return {
      chunks: own.filter((tensor) => tensor.kind === 'weight'),
      bias: own.find((tensor) => tensor.kind === 'bias') as StackedTensor,
    }
  })
}

/** What the backward pass needs from the forward pass. */
interface ForwardSaved {
  /** Input of each Linear layer, transposed: [layers, in, rows]. */
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

/** `a` cut along axis 1 into pieces of `sizes` (one piece: `a` itself). */
function splitRows(ops: GraphOps, a: string, sizes: readonly number[]): string[] {
  if (sizes.length === 1) return [a]
  return ops.builder.node({
    op: 'Split',
    name: `${a}/split_rows`,
    inputs: [a, ops.ints(sizes)],
    outputCount: sizes.length,
    attributes: { axis: 1 },
  })
}

/** Σ of `terms` (same shapes). */
function sum(ops: GraphOps, terms: readonly string[]): string {
  return terms.slice(1).reduce((total, term) => ops.add(total, term), terms[0] as string)
}

/** π·sigmoid(MLP(x)) for every layer at once: x [layers, rows, width] → [layers, rows]. */
function stackedForward(
  ops: GraphOps,
  linears: readonly LinearTensors[],
  parameters: ReadonlyMap<string, string>,
  x: string,
): { angle: string; saved: ForwardSaved } {
  const inputs: string[] = []
  const gelus: GeluSaved[] = []
  // [layers, rows, width] → [layers, width, rows]
  let hidden = ops.transpose(x, [0, 2, 1])
  linears.forEach((linear, index) => {
    inputs.push(hidden)
    // [layers, chunk rows, in] · [layers, in, rows] → [layers, chunk rows, rows], stacked to [layers, out, rows]
    const products = linear.chunks.map((chunk) => ops.matmul(current(parameters, chunk.name), hidden))
    const product = products.length === 1 ? (products[0] as string) : ops.op('Concat', products, { axis: 1 })
    // + bias [layers, out, 1]
    const biased = ops.add(product, current(parameters, linear.bias.name))
    if (index === linears.length - 1) {
      hidden = biased
    } else {
      const activation = gelu(ops, biased)
      gelus.push(activation.saved)
      hidden = activation.output
    }
  })
  // [layers, 1, rows] → [layers, rows]
  const sigmoid = ops.op('Sigmoid', [ops.reshape(hidden, [0, -1])])
  return { angle: ops.scale(sigmoid, Math.PI), saved: { inputs, gelus, sigmoid } }
}

/** The loss of one step (summed over layers) and the gradient of every stacked tensor, by name. */
function stackedLossAndGradients(
  ops: GraphOps,
  linears: readonly LinearTensors[],
  parameters: ReadonlyMap<string, string>,
  batch: { x: string; target: string; rowWeights: string },
): { loss: string; gradients: Map<string, string> } {
  const forward = ops.scoped('angles/forward', () => stackedForward(ops, linears, parameters, batch.x))
  const residual = ops.sub(forward.angle, batch.target)
  const loss = ops.scoped('angles/loss', () =>
    ops.op('ReduceSum', [ops.mul(ops.mul(residual, residual), batch.rowWeights)], { keepdims: 0 }),
  )
  const gradients = ops.scoped('angles/backward', () => {
    // d/dz of w·(π·σ(z) − t)² = 2w·(f − t)·π·σ(z)(1 − σ(z))   [layers, rows] → [layers, 1, rows].
    const sigmoid = forward.saved.sigmoid
    const slope = ops.mul(sigmoid, ops.sub(ops.scalar(1), sigmoid))
    const dAngle = ops.mul(ops.scale(residual, 2 * Math.PI), batch.rowWeights)
    let dProduct = ops.reshape(ops.mul(dAngle, slope), [0, 1, -1])
    const result = new Map<string, string>()
    for (let index = linears.length - 1; index >= 0; index--) {
      const linear = linears[index] as LinearTensors
      // [layers, in, rows] → [layers, rows, in]
      const input = ops.transpose(forward.saved.inputs[index] as string, [0, 2, 1])
      const pieces = splitRows(
        ops,
        dProduct,
        linear.chunks.map((chunk) => chunk.rows),
      )
      // [layers, chunk rows, rows] · [layers, rows, in] → [layers, chunk rows, in]
      linear.chunks.forEach((chunk, position) =>
        result.set(chunk.name, ops.matmul(pieces[position] as string, input)),
      )
      result.set(linear.bias.name, ops.reduceSum(dProduct, [2], true))
      if (index > 0) {
        // Σ over chunks of [layers, rows, chunk rows] · [layers, chunk rows, in] → [layers, rows, in], transposed.
        const partials = linear.chunks.map((chunk, position) =>
          ops.matmul(ops.transpose(pieces[position] as string, [0, 2, 1]), current(parameters, chunk.name)),
        )
        const dHidden = ops.transpose(sum(ops, partials), [0, 2, 1])
        dProduct = geluBackward(ops, forward.saved.gelus[index - 1] as GeluSaved, dHidden)
      }
    }
    return result
  })
  return { loss, gradients }
}

/** Sizes and numerics of a stacked angle gradient graph. */
export interface StackedAngleGraphOptions {
  layers: number
  /** Widths input first: [width, …, 1]. */
  widths: readonly number[]
  floatType: FloatType
  /** Elements per weight chunk (stacked-angle-layout.ts). */
  chunkElements?: number
}

/**
 * Build the stacked gradient graph: one batch's loss and the gradient of every stacked tensor, output as
 * `gradientOutput(name)` with the tensor's dims (the optimizer runs outside the graph, fused-adamw.ts).
 */
export function buildStackedAngleGradientGraph(options: StackedAngleGraphOptions): ModelProto {
  const { layers, widths, floatType } = options
  const ops = new GraphOps(floatType)
  const builder = ops.builder
  const width = widths[0] as number
  const tensors = stackedAngleParameters(layers, widths, options.chunkElements ?? defaultChunkElements)
  const linears = byLinear(tensors, widths.length - 1)
  const parameters = new Map<string, string>()
  for (const tensor of tensors)
    parameters.set(tensor.name, builder.input(tensor.name, floatType, tensor.dims))
  const batch = {
    x: builder.input(stackedAngleNames.input, floatType, [layers, 'rows', width]),
    target: builder.input(stackedAngleNames.target, floatType, [layers, 'rows']),
    rowWeights: builder.input(stackedAngleNames.weight, floatType, [layers, 'rows']),
  }
  const result = stackedLossAndGradients(ops, linears, parameters, batch)
  builder.output(ops.identity(result.loss, stackedAngleNames.loss), floatType, [])
  for (const tensor of tensors) {
    const gradient = result.gradients.get(tensor.name) as string
    builder.output(ops.identity(gradient, gradientOutput(tensor.name)), floatType, tensor.dims)
  }
  return builder.toModel({ producerName: 'tiller-hpr-stacked-angle-gradients' })
}

/** Build the forward-only graph: input [layers, rows, width] and the stacked parameters → angle [layers, rows]. */
export function buildStackedAngleEvaluationGraph(
  layers: number,
  widths: readonly number[],
  chunkElements = defaultChunkElements,
): ModelProto {
  const ops = new GraphOps('float32')
  const builder = ops.builder
  const x = builder.input(stackedAngleNames.input, 'float32', [layers, 'rows', widths[0] as number])
  const tensors = stackedAngleParameters(layers, widths, chunkElements)
  const parameters = new Map<string, string>()
  for (const tensor of tensors)
    parameters.set(tensor.name, builder.input(tensor.name, 'float32', tensor.dims))
  const linears = byLinear(tensors, widths.length - 1)
  const forward = ops.scoped('angles/forward', () => stackedForward(ops, linears, parameters, x))
  builder.output(ops.identity(forward.angle, stackedAngleNames.angle), 'float32', [layers, 'rows'])
  return builder.toModel({ producerName: 'tiller-hpr-stacked-angle-evaluation' })
}
