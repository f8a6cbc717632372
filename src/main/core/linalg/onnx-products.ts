/**
 * ONNX Runtime back end of {@link MatrixProducts}: two small MatMul graphs with symbolic dimensions,
 * each opened once on the CPU provider and reused for every layer of a fit.
 */
import { availableParallelism } from 'node:os'
import * as ort from 'onnxruntime-node'
import { GraphBuilder } from '../onnx/builder.ts'
import { encodeModel } from '../onnx/proto.ts'
import { sessionOptions } from '../runtime/session.ts'
import type { MatrixProducts } from './matrix-products.ts'

type ProductKind = 'gram' | 'combine'

/** X `[firstRows, width]`, Y `[secondRows, width]` float32 → X Yᵀ `[firstRows, secondRows]`. */
function gramGraph(): Uint8Array {
  const builder = new GraphBuilder({ name: 'gram', opsets: { '': 17 } })
  builder.input('first', 'float32', ['firstRows', 'width'])
  builder.input('second', 'float32', ['secondRows', 'width'])
  const transposed = builder.node1({
    op: 'Transpose',
    name: 'transpose',
    inputs: ['second'],
    attributes: { perm: [1, 0] },
  })
  builder.node({ op: 'MatMul', name: 'product', inputs: ['first', transposed], outputs: ['result'] })
  builder.output('result', 'float32', ['firstRows', 'secondRows'])
  return encodeModel(builder.toModel())
}

/**
 * Row blocks for a Gram of a matrix with itself: only blocks on and above the diagonal are computed (X Xᵀ is
 * symmetric), 10 of 16 products with 4 blocks. Small matrices stay one block.
 */
function rowBlocks(rows: number): Array<[number, number]> {
  const count = rows >= 512 ? 4 : 1
  const size = Math.ceil(rows / count)
  const blocks: Array<[number, number]> = []
  for (let start = 0; start < rows; start += size) blocks.push([start, Math.min(rows, start + size)])
  return blocks
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

/** Products through ONNX Runtime with `threads` intra-op threads (default: every core). Call `release` when done. */
export function onnxProducts(threads = availableParallelism()): MatrixProducts {
  const sessions = new Map<ProductKind, Promise<ort.InferenceSession>>()
  const session = (kind: ProductKind): Promise<ort.InferenceSession> => {
    let opened = sessions.get(kind)
    if (opened === undefined) {
      // The runtime's CPU options (idle pool threads sleep rather than spin on a shared machine).
      opened = ort.InferenceSession.create(graphs[kind](), {
        ...sessionOptions('cpu'),
        intraOpNumThreads: threads,
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
      const blocks = first === second ? rowBlocks(rows) : [[0, rows] as [number, number]]
      const result = new Float64Array(rows * rows)
      for (const [index, [top, bottom]] of blocks.entries()) {
        for (const [left, right] of first === second
          ? blocks.slice(index)
          : [[0, rows] as [number, number]]) {
          const block = await run('gram', {
            first: new ort.Tensor('float32', first.slice(top * width, bottom * width), [bottom - top, width]),
            second: new ort.Tensor('float32', second.slice(left * width, right * width), [
              right - left,
              width,
            ]),
          })
          const values = block.data as Float32Array
          const columns = right - left
          for (let row = top; row < bottom; row++) {
            for (let column = left; column < right; column++) {
              const value = values[(row - top) * columns + column - left] as number
              result[row * rows + column] = value
              if (first === second) result[column * rows + row] = value
            }
          }
        }
      }
      return result
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
