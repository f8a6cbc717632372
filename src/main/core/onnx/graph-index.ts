import { TillerError } from '../errors.ts'
import type { GraphProto, NodeProto, TensorProto, ValueInfoProto } from './proto.ts'

/**
 * A read-only index over a graph: who produces and who consumes each tensor, nodes by name, and the
 * initializer / input / output sets. It is a snapshot: rebuild it after editing the graph.
 */
export class GraphIndex {
  readonly graph: GraphProto
  private readonly producers = new Map<string, NodeProto>()
  private readonly consumerLists = new Map<string, NodeProto[]>()
  private readonly nodesByName = new Map<string, NodeProto>()
  private readonly initializers = new Map<string, TensorProto>()
  private readonly inputs = new Map<string, ValueInfoProto>()
  private readonly outputs = new Map<string, ValueInfoProto>()
  private readonly valueInfos = new Map<string, ValueInfoProto>()

  constructor(graph: GraphProto) {
    this.graph = graph
    for (const node of graph.node) {
      if (node.name !== '') this.nodesByName.set(node.name, node)
      for (const output of node.output) if (output !== '') this.producers.set(output, node)
      // A node reading the same tensor twice (x*x) is listed once.
      for (const input of new Set(node.input)) {
        if (input === '') continue
        const list = this.consumerLists.get(input)
        if (list === undefined) this.consumerLists.set(input, [node])
        else list.push(node)
      }
    }
    for (const tensor of graph.initializer) this.initializers.set(tensor.name, tensor)
    for (const info of graph.input) this.inputs.set(info.name, info)
    for (const info of graph.output) this.outputs.set(info.name, info)
    for (const info of graph.valueInfo) this.valueInfos.set(info.name, info)
  }

  /** The node that outputs `tensor`, or undefined for graph inputs, initializers and unknown names. */
  producer(tensor: string): NodeProto | undefined {
    return this.producers.get(tensor)
  }

  /** The nodes that read `tensor`, in graph order (each node once). */
  consumers(tensor: string): NodeProto[] {
    return this.consumerLists.get(tensor) ?? []
  }

  /** The node with this name, or undefined. */
  node(name: string): NodeProto | undefined {
    return this.nodesByName.get(name)
  }

  /** The node with this name; throws when absent. */
  requireNode(name: string): NodeProto {
    const node = this.nodesByName.get(name)
    if (node === undefined)
      throw new TillerError('internal', `Graph ${this.graph.name} has no node named ${name}.`)
    return node
  }

  /** All named nodes whose name matches `pattern`, in graph order. */
  nodesMatching(pattern: RegExp): NodeProto[] {
    return this.graph.node.filter((node) => pattern.test(node.name))
  }

  initializer(name: string): TensorProto | undefined {
    return this.initializers.get(name)
  }

  isInitializer(name: string): boolean {
    return this.initializers.has(name)
  }

  isGraphInput(name: string): boolean {
    return this.inputs.has(name)
  }

  isGraphOutput(name: string): boolean {
    return this.outputs.has(name)
  }

  /** The declared value info of a tensor: graph input, output or value_info entry. */
  valueInfo(name: string): ValueInfoProto | undefined {
    return this.inputs.get(name) ?? this.outputs.get(name) ?? this.valueInfos.get(name)
  }

  /** Names of all tensors some node or graph output reads. */
  usedTensors(): Set<string> {
    const used = new Set<string>(this.consumerLists.keys())
    for (const name of this.outputs.keys()) used.add(name)
    return used
  }

  /**
   * Nodes in an order where every node comes after the producers of its inputs (Kahn's algorithm, stable:
   * ties keep graph order). Throws when the graph has a cycle.
   */
  topologicalOrder(): NodeProto[] {
    const nodes = this.graph.node
    const position = new Map<NodeProto, number>(nodes.map((node, index) => [node, index]))
    const pendingInputs = new Map<NodeProto, number>()
    const dependents = new Map<NodeProto, NodeProto[]>()
    for (const node of nodes) {
      const producers = new Set<NodeProto>()
      for (const input of node.input) {
        const producer = this.producers.get(input)
        if (producer !== undefined && producer !== node) producers.add(producer)
      }
      pendingInputs.set(node, producers.size)
      for (const producer of producers) {
        const list = dependents.get(producer)
        if (list === undefined) dependents.set(producer, [node])
        else list.push(node)
      }
    }
    // A binary heap would be O(n log n); graphs here have thousands of nodes at most, so a sorted ready list is fine.
    const ready = nodes.filter((node) => pendingInputs.get(node) === 0)
    const order: NodeProto[] = []
    while (ready.length > 0) {
      const node = ready.shift() as NodeProto
      order.push(node)
      for (const dependent of dependents.get(node) ?? []) {
        const remaining = (pendingInputs.get(dependent) ?? 0) - 1
        pendingInputs.set(dependent, remaining)
        if (remaining === 0) {
          const at = position.get(dependent) ?? 0
          let insertAt = ready.findIndex((candidate) => (position.get(candidate) ?? 0) > at)
          if (insertAt < 0) insertAt = ready.length
          ready.splice(insertAt, 0, dependent)
        }
      }
    }
    if (order.length !== nodes.length) {
      const stuck = nodes.filter((node) => (pendingInputs.get(node) ?? 0) > 0).map((node) => node.name)
      throw new TillerError(
        'file-corrupt',
        `Graph ${this.graph.name} has a cycle through: ${stuck.slice(0, 5).join(', ')}.`,
      )
    }
    return order
  }
}

/** Reorder `graph.node` in place into topological order (ORT requires it). */
export function sortTopologically(graph: GraphProto): void {
  graph.node = new GraphIndex(graph).topologicalOrder()
}
