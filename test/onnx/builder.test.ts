import * as ort from 'onnxruntime-node'
import { describe, expect, it } from 'vitest'
import { float, floats, GraphBuilder } from '../../src/main/core/onnx/builder.ts'
import { decodeModel, encodeModel } from '../../src/main/core/onnx/proto.ts'
import { floatsToHalves } from '../../src/shared/float16.ts'
import { int64Tensor } from '../../src/main/core/onnx/tensor.ts'
import { floatData, runModel } from './session.ts'

/**
 * y = Gemm(x, W, alpha=0.5) + Constant(value_floats) then LeakyRelu(alpha=0.1), reshaped with an int64 shape,
 * with a float16 initializer cast to float32 added, and a Gather through int32 indices.
 */
function buildGraph(): GraphBuilder {
  const graph = new GraphBuilder({ name: 'builder-test', opsets: { '': 17 } })
  graph.input('x', 'float32', ['batch', 3])
  graph.initializer('W', 'float32', [3, 2], Float32Array.from([1, 2, 3, 4, 5, 6]))
  graph.initializer('half', 'float16', [2], floatsToHalves(Float32Array.from([0.25, -1])))
  graph.initializer('shape', 'int64', [2], BigInt64Array.from([-1n, 1n]))
  graph.initializer('indices', 'int32', [1], Int32Array.from([1]))
  const gemm = graph.node1({
    op: 'Gemm',
    name: '/gemm',
    inputs: ['x', 'W'],
    attributes: { alpha: float(0.5) },
  })
  const constant = graph.node1({
    op: 'Constant',
    name: '/bias',
    inputs: [],
    attributes: { value_floats: floats([1, -10]) },
  })
  const sum = graph.node1({ op: 'Add', name: graph.uniqueName('/Add'), inputs: [gemm, constant] })
  const leaky = graph.node1({
    op: 'LeakyRelu',
    name: '/leaky',
    inputs: [sum],
    attributes: { alpha: float(0.1) },
  })
  const halfFloat = graph.node1({ op: 'Cast', name: '/cast', inputs: ['half'], attributes: { to: 1 } })
  const shifted = graph.node1({ op: 'Add', name: graph.uniqueName('/Add'), inputs: [leaky, halfFloat] })
  const column = graph.node1({
    op: 'Gather',
    name: '/gather',
    inputs: [shifted, 'indices'],
    attributes: { axis: 1 },
  })
  graph.node({ op: 'Reshape', name: '/reshape', inputs: [column, 'shape'], outputs: ['y'] })
  const padded = graph.node1({
    op: 'Pad',
    name: '/pad',
    inputs: ['x', graph.addInitializer(int64Tensor('pads', [0, 0, 0, 1]))],
    attributes: { mode: 'edge' },
  })
  graph.node({
    op: 'Transpose',
    name: '/transpose',
    inputs: [padded],
    outputs: ['z'],
    attributes: { perm: [1, 0] },
  })
  graph.output('y', 'float32', ['batch', 1])
  graph.output('z', 'float32', [4, 'batch'])
  return graph
}

describe('GraphBuilder', () => {
  it('builds a graph that onnxruntime runs with the expected numbers', async () => {
    const graph = buildGraph()
    const model = decodeModel(encodeModel(graph.toModel()))
    const x = Float32Array.from([1, 0, -1, 2, 1, 0])
    const outputs = await runModel(model, { x: new ort.Tensor('float32', x, [2, 3]) })
    // Row by row: gemm = 0.5 * x @ W, + [1, -10], LeakyRelu(0.1), + [0.25, -1], take column 1.
    const W = [1, 2, 3, 4, 5, 6]
    const expected: number[] = []
    for (let row = 0; row < 2; row++) {
      const values = [0, 1].map((column) => {
        let total = 0
        for (let k = 0; k < 3; k++) total += (x[row * 3 + k] ?? 0) * (W[k * 2 + column] ?? 0)
        const biased = 0.5 * total + (column === 0 ? 1 : -10)
        const activated = biased > 0 ? biased : 0.1 * biased
        return activated + (column === 0 ? 0.25 : -1)
      })
      expected.push(values[1] ?? Number.NaN)
    }
    const y = floatData(outputs, 'y')
    expect(outputs.y?.dims).toEqual([2, 1])
    for (let index = 0; index < 2; index++) expect(y[index]).toBeCloseTo(expected[index] ?? Number.NaN, 6)
    expect(outputs.z?.dims).toEqual([4, 2])
    expect(Array.from(floatData(outputs, 'z'))).toEqual([1, 2, 0, 1, -1, 0, -1, 0])
  })

  it('numbers repeated names like TorchScript and refuses duplicates', () => {
    const graph = new GraphBuilder({ opsets: { '': 17 } })
    expect(graph.uniqueName('/model/layers.0/Add')).toBe('/model/layers.0/Add')
    graph.node({ op: 'Add', name: '/model/layers.0/Add', inputs: ['a', 'b'] })
    expect(graph.uniqueName('/model/layers.0/Add')).toBe('/model/layers.0/Add_1')
    expect(() => graph.node({ op: 'Add', name: '/model/layers.0/Add', inputs: ['a', 'b'] })).toThrow(
      /used twice/,
    )
    expect(() =>
      graph.node({ op: 'Relu', name: '/r', inputs: ['a'], outputs: ['/model/layers.0/Add/output_0'] }),
    ).toThrow(/produced twice/)
    expect(() => graph.node({ op: 'Foo', name: '/f', inputs: [], domain: 'com.microsoft' })).toThrow(/domain/)
    expect(() =>
      graph.node({ op: 'LeakyRelu', name: '/l', inputs: ['a'], attributes: { alpha: 0.1 } }),
    ).toThrow(/float/)
  })

  it('names outputs with the configured namer', () => {
    const graph = new GraphBuilder({
      opsets: { '': 17 },
      tensorName: (node, index) => `${node}_output_${index}`,
    })
    expect(graph.node({ op: 'Split', name: '/s', inputs: ['a'], outputCount: 2 })).toEqual([
      '/s_output_0',
      '/s_output_1',
    ])
  })
})
