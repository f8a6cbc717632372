/**
 * How the stacked angle networks' parameters are laid out as graph tensors (stacked-angle-graph.ts): Linear i of every
 * trained layer is one bias [layers, out, 1] and one weight [layers, out, in] (PyTorch's [out, in] per layer, so
 * stacking copies whole rows), optionally cut along its output rows into chunks of about `chunkElements` elements (each
 * chunk its own product and gradient). `stackAngleNetworks` / `unstackAngleNetwork` convert from and to the edit's
 * per-layer layout.
 */
import type { GraphParameter } from './graph-session.ts'

/** Names of the stacked graphs' inputs and outputs. */
export const stackedAngleNames = {
  input: 'input',
  target: 'target',
  weight: 'weight',
  angle: 'angle',
  loss: 'loss',
}

/**
 * Elements per weight chunk by default: one tensor per weight. Chunks of 262,144 elements (1 MB) kept the in-graph
 * AdamW's ten passes in cache; with the fused kernel (fused-adamw.ts) they only add products, and a step's run
 * took 4.0–4.5 s against 3.6–3.7 s per 904 steps without them (docs/performance.md "Fit cost").
 */
export const defaultChunkElements = Infinity

/** One stacked parameter tensor. */
export interface StackedTensor {
  name: string
  /** The Linear layer it belongs to (0 = the one reading the activations). */
  linear: number
  kind: 'weight' | 'bias'
  /** First output row it holds and how many (a bias holds all of them). */
  firstRow: number
  rows: number
  /** [layers, rows, in] for a weight chunk, [layers, out, 1] for a bias. */
  dims: number[]
}

/** Row counts of the chunks cutting `rows` rows of `rowElements` elements into pieces of about `chunkElements`. */
function chunkRows(rows: number, rowElements: number, chunkElements: number): number[] {
  const chunks = Math.max(1, Math.ceil(rows / Math.max(1, Math.floor(chunkElements / rowElements))))
  // Equal sizes (to one row) so the runtime reuses one set of buffers for every chunk's optimizer chain.
  const base = Math.floor(rows / chunks)
  return Array.from({ length: chunks }, (_, chunk) => base + (chunk < rows % chunks ? 1 : 0))
}

/** Every stacked tensor, per Linear layer its weight chunks in row order, then its bias. */
export function stackedAngleParameters(
  layers: number,
  widths: readonly number[],
  chunkElements = defaultChunkElements,
): StackedTensor[] {
  const tensors: StackedTensor[] = []
  for (let linear = 0; linear + 1 < widths.length; linear++) {
    const input = widths[linear] as number
    const output = widths[linear + 1] as number
    const pieces = chunkRows(output, layers * input, chunkElements)
    let firstRow = 0
    pieces.forEach((rows, chunk) => {
      const name = pieces.length === 1 ? `angles.weight.${linear}` : `angles.weight.${linear}.${chunk}`
      tensors.push({ name, linear, kind: 'weight', firstRow, rows, dims: [layers, rows, input] })
      firstRow += rows
    })
    tensors.push({
      name: `angles.bias.${linear}`,
      linear,
      kind: 'bias',
      firstRow: 0,
      rows: output,
      dims: [layers, output, 1],
    })
  }
  return tensors
}

/** One layer's network in the edit's layout: weight i [out, in] row-major, bias i [out]. */
export interface AngleNetworkValues {
  weights: Float32Array[]
  biases: Float32Array[]
}

/** Stack per-layer networks into the graph's parameters. */
export function stackAngleNetworks(
  networks: readonly AngleNetworkValues[],
  widths: readonly number[],
  chunkElements = defaultChunkElements,
): Map<string, GraphParameter> {
  const layers = networks.length
  const parameters = new Map<string, GraphParameter>()
  for (const tensor of stackedAngleParameters(layers, widths, chunkElements)) {
    const input = widths[tensor.linear] as number
    const rowElements = tensor.kind === 'weight' ? input : 1
    const slotElements = tensor.rows * rowElements
    const values = new Float32Array(layers * slotElements)
    networks.forEach((network, slot) => {
      const source = (tensor.kind === 'weight' ? network.weights : network.biases)[
        tensor.linear
      ] as Float32Array
      const start = tensor.firstRow * rowElements
      values.set(source.subarray(start, start + slotElements), slot * slotElements)
    })
    parameters.set(tensor.name, { values, dims: tensor.dims })
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
    weights.push(new Float32Array(output * input))
    biases.push(new Float32Array(output))
  }
  for (const [name, parameter] of parameters) {
    const [, rows, third] = parameter.dims as [number, number, number]
    const match = /^angles\.(weight|bias)\.(\d+)/.exec(name)
    if (match === null) throw new RangeError(`not a stacked angle parameter: ${name}`)
    const linear = Number(match[2])
    const slotElements = rows * third
    const values = parameter.values.subarray(slot * slotElements, (slot + 1) * slotElements)
    if (match[1] === 'bias') (biases[linear] as Float32Array).set(values)
    else (weights[linear] as Float32Array).set(values, chunkStart(name, parameters, linear) * third)
  }
  return { weights, biases }
}

/** The first output row of weight chunk `name`: the rows of the chunks before it. */
function chunkStart(name: string, parameters: ReadonlyMap<string, GraphParameter>, linear: number): number {
  const chunk = Number(name.split('.')[3] ?? 0)
  let start = 0
  for (let before = 0; before < chunk; before++) {
    const previous = parameters.get(`angles.weight.${linear}.${before}`)
    if (previous === undefined) throw new RangeError(`no chunk ${before} of Linear ${linear}`)
    start += previous.dims[1] as number
  }
  return start
}
