import type { GraphIndex } from '../../onnx/graph-index.ts'
import type { NodeProto } from '../../onnx/proto.ts'
import { linearOps } from './node-names.ts'

/**
 * Structural location of `mlp_gate` (METHODS.md §0.1): in a gated MLP the down projection reads the product
 * act(gate_proj x) ⊙ up_proj x. Of the product's two inputs, the gate side is the one computed through a
 * non-linearity (a decomposed SiLU `x·Sigmoid(x)`, a fused `QuickGelu`/`Gelu`, a decomposed tanh or erf GELU, …);
 * the up side reaches its projection through linear arithmetic only (casts, bias adds, dequantization scales,
 * slices of a fused gate_up projection). Exactly one side may contain a non-linearity, else the graph is not
 * understood and the caller names the site in its error.
 */

/** Element-wise non-linearities an MLP activation is built from, decomposed or fused (ONNX and com.microsoft). */
const nonlinearOps = new Set([
  'Sigmoid',
  'Tanh',
  'Erf',
  'Relu',
  'LeakyRelu',
  'Elu',
  'Selu',
  'Softplus',
  'HardSigmoid',
  'HardSwish',
  'Mish',
  'Gelu',
  'FastGelu',
  'BiasGelu',
  'QuickGelu',
])

/** Nodes that end the backward search: projections and the dynamic quantization of their inputs. */
const searchBoundaryOps = new Set([...linearOps, 'DynamicQuantizeLinear'])

/** Ops between the product and the down projection's float input (a dtype cast at most). */
const transparentOps = new Set(['Cast', 'Identity'])

/** How many nodes the backward search visits at most per side (a decomposed tanh GELU is eight). */
const searchLimit = 16

/**
 * Search backward from `tensor` for a non-linearity, visiting at most `searchLimit` nodes and stopping at
 * projections. Returns whether one was found and every tensor the search reached (its inputs included).
 */
function searchNonlinearity(index: GraphIndex, tensor: string): { found: boolean; reached: Set<string> } {
  const pending = [tensor]
  const reached = new Set<string>()
  const seen = new Set<NodeProto>()
  let found = false
  while (pending.length > 0 && seen.size < searchLimit) {
    const current = pending.shift() ?? ''
    reached.add(current)
    const producer = index.producer(current)
    if (producer === undefined || seen.has(producer) || searchBoundaryOps.has(producer.opType)) continue
    // Search on through the non-linearity: what it reads tells a gate act(g) from a self-gated x·act(x).
    if (nonlinearOps.has(producer.opType)) found = true
    seen.add(producer)
    pending.push(...producer.input.filter((input) => input !== ''))
  }
  return { found, reached }
}

/**
 * The tensor carrying act(gate_proj x) as the product reads it, given the down projection's float input
 * `mlpAct`, or the reason it cannot be found.
 */
export function locateGateActivation(
  index: GraphIndex,
  mlpAct: string,
): { tensor: string } | { problem: string } {
  let product = index.producer(mlpAct)
  for (let depth = 0; depth < 3 && product !== undefined && transparentOps.has(product.opType); depth++)
    product = index.producer(product.input[0] ?? '')
  if (product?.opType !== 'Mul' || product.input.length !== 2) {
    return {
      problem: `down_proj's input comes from ${product?.opType ?? 'no node'}, not the product act(gate)·up of a gated MLP`,
    }
  }
  const [first = '', second = ''] = product.input
  const searches = [searchNonlinearity(index, first), searchNonlinearity(index, second)]
  const gateSide = searches.findIndex((search) => search.found)
  const found = searches.filter((search) => search.found).length
  if (found !== 1) {
    return {
      problem: `${found} of the inputs of ${product.name} (act(gate)·up) are computed through a non-linearity; expected exactly one`,
    }
  }
  const gate = gateSide === 0 ? first : second
  const other = gateSide === 0 ? second : first
  // x·act(x) (a decomposed SiLU feeding down_proj directly) multiplies the activation by its own input.
  if (searches[gateSide]?.reached.has(other)) {
    return {
      problem: `${product.name} multiplies ${other} by a function of itself (an ungated activation such as SiLU), not by an up projection`,
    }
  }
  return { tensor: gate }
}
