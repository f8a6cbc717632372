import { TillerError } from '../../errors.ts'
import { makeAttribute, tensorValueInfo, type AttributeValue, type Dimension } from '../../onnx/builder.ts'
import { sortTopologically } from '../../onnx/graph-index.ts'
import type { ElementTypeName, ModelProto, NodeProto } from '../../onnx/proto.ts'
import { replaceConsumers } from '../../onnx/rewire.ts'
import { makeTensor, type TensorValues } from '../../onnx/tensor.ts'
import { fusedResidualOps } from './node-names.ts'

/**
 * Appends nodes, initializers, inputs and outputs to an existing decoded model under fresh names in the
 * `/tiller/…` namespace, and rewires readers of site tensors. `finish()` restores topological order.
 */
export class GraphEditor {
  readonly model: ModelProto
  private readonly taken = new Set<string>()
  private readonly added = new Set<string>()
  private counter = 0

  constructor(model: ModelProto) {
    this.model = model
    const graph = model.graph
    for (const node of graph.node) {
      this.taken.add(node.name)
      for (const output of node.output) this.taken.add(output)
    }
    for (const tensor of graph.initializer) this.taken.add(tensor.name)
    for (const info of graph.input) this.taken.add(info.name)
  }

  /** A node or tensor name not used in the graph, under `/tiller/`. */
  freshName(base: string): string {
    let candidate = `/tiller/${base}`
    while (this.taken.has(candidate)) candidate = `/tiller/${base}_${++this.counter}`
    this.taken.add(candidate)
    return candidate
  }

  /** Add one node; returns its first output. `outputs` default to one fresh tensor named after the node. */
  node(
    op: string,
    inputs: string[],
    options: {
      name?: string
      attributes?: Record<string, AttributeValue>
      domain?: string
      outputs?: string[]
    } = {},
  ): string {
    const name = this.freshName(options.name ?? op)
    const outputs = options.outputs ?? [this.freshName(`${options.name ?? op}/output_0`)]
    for (const output of outputs) this.taken.add(output)
    const node: NodeProto = {
      name,
      opType: op,
      domain: options.domain ?? '',
      input: inputs,
      output: outputs,
      attribute: Object.entries(options.attributes ?? {}).map(([key, value]) => makeAttribute(key, value)),
    }
    this.model.graph.node.push(node)
    this.added.add(name)
    return outputs[0] ?? ''
  }

  /** Add an initializer under a fresh name; returns the name. */
  constant(base: string, type: ElementTypeName, dims: readonly number[], values: TensorValues): string {
    const name = this.freshName(base)
    this.model.graph.initializer.push(makeTensor(name, type, dims, values))
    return name
  }

  /** Declare a graph input (exact name; it must not exist yet). */
  input(name: string, type: ElementTypeName, dims: readonly Dimension[]): string {
    if (this.taken.has(name)) throw new TillerError('internal', `Graph already has a tensor named ${name}.`)
    this.taken.add(name)
    this.model.graph.input.push(tensorValueInfo(name, type, dims))
    return name
  }

  /** Make every original reader of `tensor` read `replacement` (nodes added by this editor keep their inputs). */
  rewire(tensor: string, replacement: string): void {
    replaceConsumers(this.model.graph, tensor, replacement, { except: this.added })
  }

  /** The node named `name`; throws when absent. */
  requireNode(name: string): NodeProto {
    const node = this.model.graph.node.find((candidate) => candidate.name === name)
    if (node === undefined) throw new TillerError('internal', `Graph has no node named ${name}.`)
    return node
  }

  /**
   * The residual-sum output (index 3) of a fused Skip*LayerNormalization node, named on demand: builder graphs
   * leave it empty on the final norm (RUNTIME-NOTES §2.3).
   */
  fusedSum(nodeName: string): string {
    const node = this.requireNode(nodeName)
    if (!fusedResidualOps.has(node.opType)) {
      throw new TillerError('internal', `Node ${nodeName} is a ${node.opType}, not a fused residual norm.`)
    }
    while (node.output.length < 4) node.output.push('')
    if (node.output[3] === '') node.output[3] = this.freshName(`${nodeName}/output_3`.replace(/^\//, ''))
    return node.output[3] ?? ''
  }

  /** Restore topological order after appending nodes. */
  finish(): ModelProto {
    sortTopologically(this.model.graph)
    return this.model
  }
}
