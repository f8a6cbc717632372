import { TillerError } from '../errors.ts'
import { GraphIndex } from './graph-index.ts'
import type { GraphProto, NodeProto } from './proto.ts'

/**
 * Graph surgery helpers. They edit `graph` in place and keep `graph.node` in a valid topological order.
 */

/** Options of `replaceConsumers`. */
export interface ReplaceOptions {
  /** Names of nodes whose inputs stay untouched (typically the nodes that compute the replacement). */
  except?: Iterable<string>
  /** Also rename the tensor where it is a graph output (default false: graph outputs keep reading `from`). */
  includeGraphOutputs?: boolean
}

/** Make every consumer of tensor `from` read tensor `to` instead, except the listed nodes. Returns the count rewired. */
export function replaceConsumers(
  graph: GraphProto,
  from: string,
  to: string,
  options: ReplaceOptions = {},
): number {
  const except = new Set(options.except ?? [])
  let rewired = 0
  for (const node of graph.node) {
    if (except.has(node.name)) continue
    for (let index = 0; index < node.input.length; index++) {
      if (node.input[index] === from) {
        node.input[index] = to
        rewired++
      }
    }
  }
  if (options.includeGraphOutputs) {
    for (const output of graph.output) {
      if (output.name === from) {
        output.name = to
        rewired++
      }
    }
  }
  return rewired
}

/** The nodes of an inserted chain and the tensor that replaces the original for downstream readers. */
export interface Chain {
  nodes: NodeProto[]
  output: string
}

function insertionIndex(graph: GraphProto, tensor: string): number {
  const producerIndex = graph.node.findIndex((node) => node.output.includes(tensor))
  return producerIndex + 1
}

/**
 * Insert a chain of nodes between `tensor` and its consumers: `build(tensor)` returns nodes that read `tensor`
 * and end in `output`; every other reader of `tensor` is rewired to `output`. Graph outputs named `tensor` keep
 * the original value unless `includeGraphOutputs` is set. The chain is placed right after the producer.
 */
export function insertAfter(
  graph: GraphProto,
  tensor: string,
  build: (input: string) => Chain,
  options: { includeGraphOutputs?: boolean } = {},
): Chain {
  const chain = build(tensor)
  const chainNames = new Set(chain.nodes.map((node) => node.name))
  const taken = new Set(graph.node.map((node) => node.name))
  for (const name of chainNames) {
    if (name !== '' && taken.has(name)) {
      throw new TillerError('internal', `Inserted node name ${name} already exists in graph ${graph.name}.`)
    }
  }
  replaceConsumers(graph, tensor, chain.output, {
    except: chainNames,
    includeGraphOutputs: options.includeGraphOutputs ?? false,
  })
  graph.node.splice(insertionIndex(graph, tensor), 0, ...chain.nodes)
  // The chain may read tensors produced later in the list (e.g. a mask built near the end): restore the order.
  graph.node = new GraphIndex(graph).topologicalOrder()
  return chain
}

/** Remove the named nodes. Throws when a name is not in the graph (a typo would otherwise pass silently). */
export function removeNodes(graph: GraphProto, names: Iterable<string>): void {
  const doomed = new Set(names)
  const present = new Set(graph.node.map((node) => node.name))
  for (const name of doomed) {
    if (!present.has(name))
      throw new TillerError('internal', `Cannot remove node ${name}: not in graph ${graph.name}.`)
  }
  graph.node = graph.node.filter((node) => !doomed.has(node.name))
}

/** Add a graph output for an existing tensor, with the given value info (no-op if already an output). */
export function exposeOutput(graph: GraphProto, info: GraphProto['output'][number]): void {
  if (graph.output.some((output) => output.name === info.name)) return
  graph.output.push(info)
}

/**
 * Drop nodes whose outputs nobody reads (repeatedly), then initializers no node reads. Graph outputs count as
 * readers. Returns the names of removed nodes.
 */
export function removeDeadNodes(graph: GraphProto): string[] {
  const removed: string[] = []
  for (;;) {
    const used = new GraphIndex(graph).usedTensors()
    const dead = graph.node.filter((node) =>
      node.output.every((output) => output === '' || !used.has(output)),
    )
    if (dead.length === 0) break
    const deadSet = new Set(dead)
    removed.push(...dead.map((node) => node.name))
    graph.node = graph.node.filter((node) => !deadSet.has(node))
  }
  const used = new GraphIndex(graph).usedTensors()
  graph.initializer = graph.initializer.filter((tensor) => used.has(tensor.name))
  return removed
}
