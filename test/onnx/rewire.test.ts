import * as ort from 'onnxruntime-node'
import { describe, expect, it } from 'vitest'
import { GraphBuilder, makeNode } from '../../src/main/core/onnx/builder.ts'
import { GraphIndex } from '../../src/main/core/onnx/graph-index.ts'
import {
  exposeOutput,
  insertAfter,
  removeDeadNodes,
  removeNodes,
  replaceConsumers,
} from '../../src/main/core/onnx/rewire.ts'
import { tensorValueInfo } from '../../src/main/core/onnx/builder.ts'
import { floatData, runModel } from './session.ts'

/** h = Relu(x); y = h + h*w; also z = Neg(h). */
function baseModel(withUnusedInitializer = false): GraphBuilder {
  const graph = new GraphBuilder({ opsets: { '': 17 } })
  graph.input('x', 'float32', [3])
  graph.initializer('w', 'float32', [3], Float32Array.from([1, 2, 3]))
  if (withUnusedInitializer) graph.initializer('unused', 'float32', [1], Float32Array.from([0]))
  graph.node({ op: 'Relu', name: 'relu', inputs: ['x'], outputs: ['h'] })
  graph.node({ op: 'Mul', name: 'scale', inputs: ['h', 'w'], outputs: ['hw'] })
  graph.node({ op: 'Add', name: 'add', inputs: ['h', 'hw'], outputs: ['y'] })
  graph.node({ op: 'Neg', name: 'neg', inputs: ['h'], outputs: ['z'] })
  graph.output('y', 'float32', [3])
  graph.output('z', 'float32', [3])
  return graph
}

const x = Float32Array.from([1, -2, 3])
const feeds = (): Record<string, ort.Tensor> => ({ x: new ort.Tensor('float32', x, [3]) })

describe('rewire', () => {
  it('inserts a chain between a producer and all its consumers', async () => {
    const builder = baseModel()
    insertAfter(builder.graph, 'h', (input) => ({
      nodes: [
        makeNode({ op: 'Add', name: '/edits/shift', inputs: [input, 'w'], outputs: ['/edits/shifted'] }),
        makeNode({ op: 'Neg', name: '/edits/flip', inputs: ['/edits/shifted'], outputs: ['/edits/flipped'] }),
      ],
      output: '/edits/flipped',
    }))
    // The chain sits right after the producer, before every consumer.
    expect(builder.graph.node.map((node) => node.name)).toEqual([
      'relu',
      '/edits/shift',
      '/edits/flip',
      'scale',
      'add',
      'neg',
    ])
    const outputs = await runModel(builder.toModel(), feeds())
    const w = [1, 2, 3]
    const edited = Array.from(x, (value, index) => -(Math.max(value, 0) + (w[index] ?? 0)))
    expect(Array.from(floatData(outputs, 'y'))).toEqual(edited.map((h, index) => h + h * (w[index] ?? 0)))
    expect(Array.from(floatData(outputs, 'z'))).toEqual(edited.map((h) => -h))
  })

  it('replaces consumers except listed nodes, and removes nodes', async () => {
    const builder = baseModel()
    expect(replaceConsumers(builder.graph, 'h', 'x', { except: ['neg'] })).toBe(2)
    const outputs = await runModel(builder.toModel(), feeds())
    const w = [1, 2, 3]
    expect(Array.from(floatData(outputs, 'y'))).toEqual(
      Array.from(x, (value, index) => value + value * (w[index] ?? 0)),
    )
    expect(Array.from(floatData(outputs, 'z'))).toEqual(Array.from(x, (value) => -Math.max(value, 0)))
    removeNodes(builder.graph, ['neg'])
    builder.graph.output = builder.graph.output.filter((output) => output.name !== 'z')
    expect(new GraphIndex(builder.graph).node('neg')).toBeUndefined()
    expect(() => removeNodes(builder.graph, ['missing'])).toThrow(/missing/)
  })

  it('exposes an intermediate as an output and prunes dead nodes and initializers', async () => {
    const builder = baseModel(true)
    exposeOutput(builder.graph, tensorValueInfo('hw', 'float32', [3]))
    builder.graph.output = builder.graph.output.filter((output) => output.name !== 'z')
    expect(removeDeadNodes(builder.graph)).toEqual(['neg'])
    expect(builder.graph.initializer.map((tensor) => tensor.name)).toEqual(['w'])
    const outputs = await runModel(builder.toModel(), feeds())
    expect(Array.from(floatData(outputs, 'hw'))).toEqual([1, 0, 9])
  })
})
