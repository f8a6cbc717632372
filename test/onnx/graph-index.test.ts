import { describe, expect, it } from 'vitest'
import { isTillerError } from '../../src/main/core/errors.ts'
import { GraphBuilder } from '../../src/main/core/onnx/builder.ts'
import { GraphIndex, sortTopologically } from '../../src/main/core/onnx/graph-index.ts'

/** a = Relu(x); b = Neg(a); c = Add(a, b); d = Mul(c, c) — listed out of order on purpose. */
function shuffledGraph(): GraphBuilder {
  const graph = new GraphBuilder({ opsets: { '': 17 } })
  graph.input('x', 'float32', [2])
  graph.initializer('w', 'float32', [2], Float32Array.from([1, 2]))
  graph.node({ op: 'Mul', name: 'd', inputs: ['c', 'c'], outputs: ['d_out'] })
  graph.node({ op: 'Add', name: 'c', inputs: ['a_out', 'b_out'], outputs: ['c'] })
  graph.node({ op: 'Neg', name: 'b', inputs: ['a_out'], outputs: ['b_out'] })
  graph.node({ op: 'Relu', name: 'a', inputs: ['x'], outputs: ['a_out'] })
  graph.node({ op: 'Mul', name: 'e', inputs: ['x', 'w'], outputs: ['e_out'] })
  graph.output('d_out', 'float32', [2])
  return graph
}

describe('GraphIndex', () => {
  it('maps producers, consumers, names and sets', () => {
    const index = new GraphIndex(shuffledGraph().graph)
    expect(index.producer('a_out')?.name).toBe('a')
    expect(index.producer('x')).toBeUndefined()
    expect(index.consumers('a_out').map((node) => node.name)).toEqual(['c', 'b'])
    expect(index.consumers('c').map((node) => node.name)).toEqual(['d'])
    expect(index.consumers('d_out')).toEqual([])
    expect(index.node('e')?.opType).toBe('Mul')
    expect(index.nodesMatching(/^[ab]$/).map((node) => node.name)).toEqual(['b', 'a'])
    expect(index.isInitializer('w')).toBe(true)
    expect(index.isGraphInput('x')).toBe(true)
    expect(index.isGraphOutput('d_out')).toBe(true)
    expect(index.isGraphOutput('c')).toBe(false)
    expect(index.valueInfo('x')?.type?.tensorType?.elemType).toBe(1)
    expect(() => index.requireNode('nope')).toThrow(/nope/)
  })

  it('orders nodes topologically, keeping graph order among independent nodes', () => {
    const graph = shuffledGraph().graph
    const order = new GraphIndex(graph).topologicalOrder().map((node) => node.name)
    // Among ready nodes the one listed first goes first: b (listed before e) is ready once a is placed.
    expect(order).toEqual(['a', 'b', 'c', 'd', 'e'])
    const position = new Map(order.map((name, at) => [name, at]))
    for (const node of graph.node) {
      for (const input of node.input) {
        const producer = new GraphIndex(graph).producer(input)
        if (producer) expect(position.get(producer.name)).toBeLessThan(position.get(node.name) ?? -1)
      }
    }
    sortTopologically(graph)
    expect(graph.node.map((node) => node.name)).toEqual(order)
  })

  it('reports a cycle', () => {
    const graph = new GraphBuilder({ opsets: { '': 17 } })
    graph.node({ op: 'Neg', name: 'p', inputs: ['q_out'], outputs: ['p_out'] })
    graph.node({ op: 'Neg', name: 'q', inputs: ['p_out'], outputs: ['q_out'] })
    let caught: unknown
    try {
      new GraphIndex(graph.graph).topologicalOrder()
    } catch (error) {
      caught = error
    }
    expect(isTillerError(caught, 'file-corrupt')).toBe(true)
    expect(String(caught)).toMatch(/cycle.*p, q/)
  })
})
