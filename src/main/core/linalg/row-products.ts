/**
 * Products of a `[rows, width]` matrix M with a few vectors, as small ONNX Runtime graphs opened once per fit and
 * reused for every layer (fixed graph, the matrix fed as the same tensor every call):
 *   reflect    M (Mᵀ X)        X `[rows, count]` → `[rows, count]`   (G x or S x without forming G or S), and Mᵀ X
 *   sketch     M Zᵀ            Z `[count, width]` → `[rows, count]`
 *   energies   ‖Mᵀ x_j‖²       X `[rows, count]` → `[count]`, and Mᵀ X
 * Each costs rows · width · count multiply-adds instead of a Gram's rows² · width. `reflect` feeds Lanczos and runs
 * in float64 (a float32 Aᵀ x cancels badly when rows share a large offset, as residual activations do: measured
 * projector errors of 8e-4 against 4e-8 in float64); `sketch` and `energies` only estimate the remainder of a
 * total, whose margin covers their float32 rounding.
 */
import { availableParallelism } from 'node:os'
import * as ort from 'onnxruntime-node'
import { GraphBuilder } from '../onnx/builder.ts'
import { encodeModel } from '../onnx/proto.ts'
import { sessionOptions } from '../runtime/session.ts'

type RowProductKind = 'reflect' | 'sketch' | 'energies'

function reflectGraph(): Uint8Array {
  const builder = new GraphBuilder({ name: 'reflect', opsets: { '': 17 } })
  builder.input('matrix', 'float64', ['rows', 'width'])
  builder.input('vectors', 'float64', ['rows', 'count'])
  builder.node({
    op: 'Gemm',
    name: 'back',
    inputs: ['matrix', 'vectors'],
    outputs: ['back'],
    attributes: { transA: 1 },
  })
  builder.node({ op: 'MatMul', name: 'forth', inputs: ['matrix', 'back'], outputs: ['result'] })
  builder.output('result', 'float64', ['rows', 'count'])
  builder.output('back', 'float64', ['width', 'count'])
  return encodeModel(builder.toModel())
}

function sketchGraph(): Uint8Array {
  const builder = new GraphBuilder({ name: 'sketch', opsets: { '': 17 } })
  builder.input('matrix', 'float32', ['rows', 'width'])
  builder.input('vectors', 'float32', ['count', 'width'])
  builder.node({
    op: 'Gemm',
    name: 'product',
    inputs: ['matrix', 'vectors'],
    outputs: ['result'],
    attributes: { transB: 1 },
  })
  builder.output('result', 'float32', ['rows', 'count'])
  return encodeModel(builder.toModel())
}

function energiesGraph(): Uint8Array {
  const builder = new GraphBuilder({ name: 'energies', opsets: { '': 17 } })
  builder.input('matrix', 'float32', ['rows', 'width'])
  builder.input('vectors', 'float32', ['rows', 'count'])
  builder.node({
    op: 'Gemm',
    name: 'back',
    inputs: ['matrix', 'vectors'],
    outputs: ['back'],
    attributes: { transA: 1 },
  })
  builder.node({
    op: 'ReduceSumSquare',
    name: 'energies',
    inputs: ['back'],
    outputs: ['result'],
    attributes: { axes: [0], keepdims: 0 },
  })
  builder.output('result', 'float32', ['count'])
  builder.output('back', 'float32', ['width', 'count'])
  return encodeModel(builder.toModel())
}

const graphs: Record<RowProductKind, () => Uint8Array> = {
  reflect: reflectGraph,
  sketch: sketchGraph,
  energies: energiesGraph,
}

/** A matrix handed to the graphs once: the tensor wraps the caller's array without copying it. */
export interface RowMatrix {
  tensor: ort.Tensor
  /** The same values in float64, for the Lanczos products. */
  exact: ort.Tensor
  rows: number
  width: number
}

/** The three products; `release` closes the sessions. */
export interface RowProducts {
  matrix(values: Float32Array, rows: number, width: number): RowMatrix
  /** M (Mᵀ X) for `count` vectors stored one after another (`[count, rows]`, row-major). */
  reflect(matrix: RowMatrix, vectors: Float64Array, count: number): Promise<Float64Array>
  /** M (Mᵀ x) for one vector `[rows]`, with the intermediate Mᵀ x `[width]`. */
  reflectOne(
    matrix: RowMatrix,
    vector: Float64Array,
  ): Promise<{ reflected: Float64Array; back: Float64Array }>
  /** M Zᵀ for Z `[count, width]`, returned as `[count, rows]`. */
  sketch(matrix: RowMatrix, probes: Float32Array, count: number): Promise<Float64Array>
  /** ‖Mᵀ x_j‖² for `count` vectors `[count, rows]`, with the products Mᵀ x_j themselves (`[count, width]`). */
  energies(
    matrix: RowMatrix,
    vectors: Float64Array,
    count: number,
  ): Promise<{ energies: Float64Array; backs: Float64Array }>
  release(): Promise<void>
}

/** `[count, rows]` float64 → `[rows, count]` float32 (the graphs take vectors as columns). */
function columns(vectors: Float64Array, count: number, rows: number): Float32Array {
  const result = new Float32Array(rows * count)
  for (let vector = 0; vector < count; vector++) {
    for (let row = 0; row < rows; row++) result[row * count + vector] = vectors[vector * rows + row] as number
  }
  return result
}

/** `[count, rows]` → `[rows, count]` in float64 (one vector is its own column: no copy). */
function columns64(vectors: Float64Array, count: number, rows: number): Float64Array {
  if (count === 1) return vectors
  const result = new Float64Array(rows * count)
  for (let vector = 0; vector < count; vector++) {
    for (let row = 0; row < rows; row++) result[row * count + vector] = vectors[vector * rows + row] as number
  }
  return result
}

/** `[rows, count]` → `[count, rows]` float64. */
function fromColumns(values: Float32Array | Float64Array, count: number, rows: number): Float64Array {
  const result = new Float64Array(rows * count)
  for (let row = 0; row < rows; row++) {
    for (let vector = 0; vector < count; vector++)
      result[vector * rows + row] = values[row * count + vector] as number
  }
  return result
}

/** Row products through ONNX Runtime with `threads` intra-op threads (default: every core). */
export function onnxRowProducts(threads = availableParallelism()): RowProducts {
  const sessions = new Map<RowProductKind, Promise<ort.InferenceSession>>()
  const run = async (
    kind: RowProductKind,
    feeds: Record<string, ort.Tensor>,
  ): Promise<ort.InferenceSession.OnnxValueMapType> => {
    let opened = sessions.get(kind)
    if (opened === undefined) {
      opened = ort.InferenceSession.create(graphs[kind](), {
        ...sessionOptions('cpu'),
        intraOpNumThreads: threads,
      })
      sessions.set(kind, opened)
    }
    return (await opened).run(feeds)
  }
  const data = (outputs: ort.InferenceSession.OnnxValueMapType, name: string) =>
    (outputs[name] as ort.Tensor).data as Float32Array | Float64Array
  return {
    matrix: (values, rows, width) => ({
      tensor: new ort.Tensor('float32', values, [rows, width]),
      exact: new ort.Tensor('float64', new Float64Array(values), [rows, width]),
      rows,
      width,
    }),
    async reflect(matrix, vectors, count) {
      const outputs = await run('reflect', {
        matrix: matrix.exact,
        vectors: new ort.Tensor('float64', columns64(vectors, count, matrix.rows), [matrix.rows, count]),
      })
      return fromColumns(data(outputs, 'result'), count, matrix.rows)
    },
    async reflectOne(matrix, vector) {
      const outputs = await run('reflect', {
        matrix: matrix.exact,
        vectors: new ort.Tensor('float64', vector, [matrix.rows, 1]),
      })
      return {
        reflected: data(outputs, 'result') as Float64Array,
        back: data(outputs, 'back') as Float64Array,
      }
    },
    async sketch(matrix, probes, count) {
      const outputs = await run('sketch', {
        matrix: matrix.tensor,
        vectors: new ort.Tensor('float32', probes, [count, matrix.width]),
      })
      return fromColumns(data(outputs, 'result'), count, matrix.rows)
    },
    async energies(matrix, vectors, count) {
      const outputs = await run('energies', {
        matrix: matrix.tensor,
        vectors: new ort.Tensor('float32', columns(vectors, count, matrix.rows), [matrix.rows, count]),
      })
      return {
        energies: new Float64Array(data(outputs, 'result')),
        backs: fromColumns(data(outputs, 'back'), count, matrix.width),
      }
    },
    async release() {
      const opened = [...sessions.values()]
      sessions.clear()
      for (const pending of opened) await (await pending).release()
    },
  }
}

/** One participant of a {@link lockstepReflect}: its products, and `leave` once it needs no more. */
export interface LockstepMember {
  reflect(vector: Float64Array): Promise<Float64Array>
  leave(): void
}

/**
 * M (Mᵀ x) for several Lanczos runs over the same matrix (SEA's two sides share the neutral activations): each run
 * joins, and a product runs once every member still present has asked for one, as a single batched run. The product
 * reads the matrix once whatever the batch, so two runs in lockstep cost one run's memory traffic.
 */
export function lockstepReflect(products: RowProducts, matrix: RowMatrix): { join(): LockstepMember } {
  interface Request {
    vector: Float64Array
    resolve: (value: Float64Array) => void
    reject: (error: unknown) => void
  }
  let members = 0
  let queue: Request[] = []
  const flushIfReady = () => {
    if (queue.length === 0 || queue.length < members) return
    const batch = queue
    queue = []
    const rows = matrix.rows
    const stacked = new Float64Array(batch.length * rows)
    batch.forEach((request, index) => stacked.set(request.vector, index * rows))
    products.reflect(matrix, stacked, batch.length).then(
      (result) =>
        batch.forEach((request, index) => request.resolve(result.slice(index * rows, (index + 1) * rows))),
      (error: unknown) => batch.forEach((request) => request.reject(error)),
    )
  }
  return {
    join() {
      members++
      let present = true
      return {
        reflect: (vector) =>
          new Promise<Float64Array>((resolve, reject) => {
            queue.push({ vector, resolve, reject })
            flushIfReady()
          }),
        leave() {
          if (!present) return
          present = false
          members--
          flushIfReady()
        },
      }
    },
  }
}
