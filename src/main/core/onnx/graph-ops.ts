import { GraphBuilder, type AttributeValue } from './builder.ts'
import { int64Tensor, makeTensor } from './tensor.ts'

/** Floating-point type of a training graph: float32 for training, float64 for exact gradient checks. */
export type FloatType = 'float32' | 'float64'

/**
 * Terse op helpers over GraphBuilder for hand-written training graphs: every call adds one node under a
 * scoped, numbered name and returns the output tensor's name. Shapes are the caller's to document.
 */
export class GraphOps {
  readonly builder: GraphBuilder
  readonly floatType: FloatType
  private scopeName = 'graph'
  private counter = 0
  private readonly constants = new Map<string, string>()

  constructor(floatType: FloatType) {
    this.floatType = floatType
    this.builder = new GraphBuilder({ name: 'organism_training', opsets: { '': 17 } })
  }

  /** Prefix the names of the nodes added by `body` with `scope` (e.g. `layers.2/attention`). */
  scoped<T>(scope: string, body: () => T): T {
    const previous = this.scopeName
    this.scopeName = scope
    try {
      return body()
    } finally {
      this.scopeName = previous
    }
  }

  /** Add a one-output node. */
  op(type: string, inputs: string[], attributes?: Record<string, AttributeValue>): string {
    const name = `${this.scopeName}/${type}_${this.counter++}`
    return this.builder.node1({ op: type, name, inputs, ...(attributes === undefined ? {} : { attributes }) })
  }

  /** A float scalar constant of the graph's float type (shared between uses). */
  scalar(value: number): string {
    const key = `${this.floatType}:${value}`
    const existing = this.constants.get(key)
    if (existing !== undefined) return existing
    const name = `constant_${this.constants.size}`
    const values = this.floatType === 'float32' ? new Float32Array([value]) : new Float64Array([value])
    this.builder.addInitializer(makeTensor(name, this.floatType, [], values))
    this.constants.set(key, name)
    return name
  }

  /** An int64 vector constant (shapes, axes, split sizes), shared between uses. */
  ints(values: readonly number[]): string {
    const key = `ints:${values.join(',')}`
    const existing = this.constants.get(key)
    if (existing !== undefined) return existing
    const name = `constant_${this.constants.size}`
    this.builder.addInitializer(int64Tensor(name, values, [values.length]))
    this.constants.set(key, name)
    return name
  }

  /** Expose `input` under the name `output` (for graph outputs). */
  identity(input: string, output: string): string {
    this.builder.node({ op: 'Identity', name: `outputs/${output}`, inputs: [input], outputs: [output] })
    return output
  }

  /** a + b (broadcasting). */
  add(a: string, b: string): string {
    return this.op('Add', [a, b])
  }
  /** a − b (broadcasting). */
  sub(a: string, b: string): string {
    return this.op('Sub', [a, b])
  }
  /** a ⊙ b (broadcasting). */
  mul(a: string, b: string): string {
    return this.op('Mul', [a, b])
  }
  /** a · factor. */
  scale(a: string, factor: number): string {
    return this.op('Mul', [a, this.scalar(factor)])
  }
  /** −a. */
  neg(a: string): string {
    return this.op('Neg', [a])
  }
  /** Batched matrix product a · b. */
  matmul(a: string, b: string): string {
    return this.op('MatMul', [a, b])
  }
  /** `a · bᵀ` for 2-D `a [n, k]` and `b [m, k]` → `[n, m]`. */
  matmulTransposeB(a: string, b: string): string {
    return this.op('Gemm', [a, b], { transB: 1 })
  }
  /** `aᵀ · b` for 2-D `a [k, n]` and `b [k, m]` → `[n, m]`. */
  matmulTransposeA(a: string, b: string): string {
    return this.op('Gemm', [a, b], { transA: 1 })
  }
  /** Permute the axes of a. */
  transpose(a: string, perm: number[]): string {
    return this.op('Transpose', [a], { perm })
  }
  /** Reshape a to a fixed shape. */
  reshape(a: string, shape: readonly number[]): string {
    return this.op('Reshape', [a, this.ints(shape)])
  }
  /** Sum over `axes`, keeping reduced dimensions when `keep`. */
  reduceSum(a: string, axes: number[], keep: boolean): string {
    return this.op('ReduceSum', [a, this.ints(axes)], { keepdims: keep ? 1 : 0 })
  }
  /** Mean over the last axis, kept: `[..., n]` → `[..., 1]`. */
  meanLast(a: string): string {
    return this.op('ReduceMean', [a], { axes: [-1], keepdims: 1 })
  }
  /** The two halves of the last axis. */
  splitHalves(a: string, width: number): [string, string] {
    const half = width / 2
    const [first, second] = this.builder.node({
      op: 'Split',
      name: `${this.scopeName}/Split_${this.counter++}`,
      inputs: [a, this.ints([half, half])],
      outputCount: 2,
      attributes: { axis: -1 },
    })
    if (first === undefined || second === undefined) throw new Error('Split returned fewer than two outputs')
    return [first, second]
  }
  /** Concatenate along the last axis. */
  concatLast(a: string, b: string): string {
    return this.op('Concat', [a, b], { axis: -1 })
  }
}
