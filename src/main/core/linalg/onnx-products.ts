/**
 * ONNX Runtime back end of {@link MatrixProducts}: two small MatMul graphs with symbolic dimensions,
 * each opened once on the CPU provider and reused for every layer of a fit.
 */
import * as ort from 'onnxruntime-node'
import { GraphBuilder } from '../onnx/builder.ts'
import { encodeModel } from '../onnx/proto.ts'
import type { MatrixProducts } from './matrix-products.ts'

type ProductKind = 'gram' | 'combine'

/** X `[rows, width]`, Y `[rows, width]` float32 → X Yᵀ `[rows, rows]`. */
function gramGraph(): Uint8Array {
  const builder = new GraphBuilder({ name: 'gram', opsets: { '': 17 } })
  builder.input('first', 'float32', ['rows', 'width'])
  builder.input('second', 'float32', ['rows', 'width'])
  const transposed = builder.node1({
    op: 'Transpose',
    name: 'transpose',
    inputs: ['second'],
    attributes: { perm: [1, 0] },
  })
  builder.node({ op: 'MatMul', name: 'product', inputs: ['first', transposed], outputs: ['result'] })
  builder.output('result', 'float32', ['rows', 'rows'])
  return encodeModel(builder.toModel())
}

/** C `[count, rows]`, X `[rows, width]` float32 → C X `[count, width]`. */
function combineGraph(): Uint8Array {
  const builder = new GraphBuilder({ name: 'combine', opsets: { '': 17 } })
  builder.input('coefficients', 'float32', ['count', 'rows'])
  builder.input('matrix', 'float32', ['rows', 'width'])
  builder.node({ op: 'MatMul', name: 'product', inputs: ['coefficients', 'matrix'], outputs: ['result'] })
  builder.output('result', 'float32', ['count', 'width'])
  return encodeModel(builder.toModel())
}

const graphs: Record<ProductKind, () => Uint8Array> = {
  gram: gramGraph,
  combine: combineGraph,
}

/** Products through ONNX Runtime with `threads` intra-op threads (default 2). Call `release` when done. */
export function onnxProducts(threads = 2): MatrixProducts {
  const sessions = new Map<ProductKind, Promise<ort.InferenceSession>>()
  const session = (kind: ProductKind): Promise<ort.InferenceSession> => {
    let opened = sessions.get(kind)
    if (opened === undefined) {
      opened = ort.InferenceSession.create(graphs[kind](), {
        executionProviders: ['cpu'],
        intraOpNumThreads: threads,
        interOpNumThreads: 1,
        executionMode: 'sequential',
        graphOptimizationLevel: 'all',
      })
      sessions.set(kind, opened)
    }
    return opened
  }
  const run = async (kind: ProductKind, feeds: Record<string, ort.Tensor>): Promise<ort.Tensor> => {
    const outputs = await (await session(kind)).run(feeds)
    return outputs.result as ort.Tensor
  }
  return {
    async gram(first, second, rows, width) {
      const result = await run('gram', {
        first: new ort.Tensor('float32', first, [rows, width]),
        second: new ort.Tensor('float32', second, [rows, width]),
      })
      return Float64Array.from(result.data as Float32Array)
    },
    async combine(coefficients, count, matrix, rows, width) {
      const result = await run('combine', {
        coefficients: new ort.Tensor('float32', Float32Array.from(coefficients), [count, rows]),
        matrix: new ort.Tensor('float32', matrix, [rows, width]),
      })
      return Float32Array.from(result.data as Float32Array)
    },
    async release() {
      const opened = [...sessions.values()]
      sessions.clear()
      for (const pending of opened) await (await pending).release()
    },
  }
}
