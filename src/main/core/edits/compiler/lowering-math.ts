import type { GraphEditor } from '../../models/locator/graph-editor.ts'
import type { AttributeValue } from '../../onnx/builder.ts'
import { opsetVersion } from '../../onnx/proto.ts'

/**
 * Float32 arithmetic for lowerings that are more than a product or two (spectral, householder): each call adds
 * one node named `{label}/{step}`. Sums of squares and norms over the width are one ReduceSumSquare or ReduceL2, whose
 * axes are an attribute before opset 18 and an input from 18 on.
 * Shapes in comments: `[batch, seq, width]` is a site value, `[batch, seq, 1]` one number per token.
 */
export class LoweringMath {
  private readonly constants = new Map<string, string>()

  constructor(
    readonly editor: GraphEditor,
    readonly label: string,
    readonly width: number,
  ) {}

  /** One node of `op`; returns its output. */
  op(op: string, inputs: string[], step: string, attributes: Record<string, AttributeValue> = {}): string {
    return this.editor.node(op, inputs, { name: `${this.label}/${step}`, attributes })
  }

  /** A float32 scalar initializer (one per distinct value). */
  scalar(value: number): string {
    const key = Object.is(value, -0) ? '-0' : String(value)
    const known = this.constants.get(key)
    if (known !== undefined) return known
    const name = this.editor.constant(`${this.label}/constant`, 'float32', [], Float32Array.of(value))
    this.constants.set(key, name)
    return name
  }

  /** A float32 initializer of shape `dims`. */
  tensor(step: string, dims: readonly number[], values: Float32Array): string {
    return this.editor.constant(`${this.label}/${step}`, 'float32', dims, values)
  }

  add(first: string, second: string, step: string): string {
    return this.op('Add', [first, second], step)
  }

  sub(first: string, second: string, step: string): string {
    return this.op('Sub', [first, second], step)
  }

  mul(first: string, second: string, step: string): string {
    return this.op('Mul', [first, second], step)
  }

  div(first: string, second: string, step: string): string {
    return this.op('Div', [first, second], step)
  }

  /** `condition ? whenTrue : whenFalse`, element-wise with broadcasting. */
  where(condition: string, whenTrue: string, whenFalse: string, step: string): string {
    return this.op('Where', [condition, whenTrue, whenFalse], step)
  }

  /** ‖x‖² over the width in one node: `[batch, seq, width]` → `[batch, seq, 1]`. */
  sumOfSquares(x: string, step: string): string {
    return this.reduceWidth('ReduceSumSquare', x, step)
  }

  /** ‖x‖ over the width in one node: `[batch, seq, width]` → `[batch, seq, 1]`. */
  norm(x: string, step: string): string {
    return this.reduceWidth('ReduceL2', x, step)
  }

  private reduceWidth(op: 'ReduceSumSquare' | 'ReduceL2', x: string, step: string): string {
    const opset = opsetVersion(this.editor.model, '') ?? 1
    if (opset < 18) return this.op(op, [x], step, { axes: [-1], keepdims: 1 })
    this.lastAxis ??= this.editor.constant(`${this.label}/last_axis`, 'int64', [1], BigInt64Array.of(-1n))
    return this.op(op, [x, this.lastAxis], step, { keepdims: 1 })
  }

  /**
   * `x` where every element is finite, else 0 (x − x is 0 exactly for finite x and NaN for ±Inf or NaN): the last
   * line of defence that keeps `gate · x` exactly 0 at strength 0.
   */
  finiteOrZero(x: string, step: string): string {
    const finite = this.op(
      'Equal',
      [this.sub(x, x, `${step}_self_difference`), this.scalar(0)],
      `${step}_finite`,
    )
    return this.where(finite, x, this.scalar(0), step)
  }

  private lastAxis: string | undefined
}
