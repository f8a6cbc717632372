import type { Op } from '../../../../shared/edit.ts'
import type { GraphEditor } from '../../models/locator/graph-editor.ts'

/**
 * What one op lowering gets: the graph editor, the row/position gate and the site's width. A lowering returns the
 * float32 delta it adds to the site, `[batch, seq, width]`; the site chain adds it (cast to the activation type).
 * Every delta is a product with the gate `α·mask`, so strength 0 adds exactly zero.
 */
export interface LoweringContext {
  editor: GraphEditor
  /** `tiller_strength ⊙ mask` for this intervention's policy, float32 `[batch, seq, 1]`. */
  gate: string
  /** `factor · gate`, built once per gate and factor and shared by every site that asks for it. */
  scaledGate(factor: number): string
  /** The site's width (hidden size, heads·headDim or intermediate size). */
  width: number
  /** Node-name prefix for this intervention, e.g. `edits/layers.3/resid_post/0`. */
  label: string
  /** Each fed position's real token index, int64 `[batch, seq]` (declares `tiller_token_index` on first use). */
  tokenIndex(): string
}

/** One op family's lowering: builds the delta from the float32 site value `input` `[batch, seq, width]`. */
export type Lowering<Kind extends Op['kind']> = (
  context: LoweringContext,
  input: string,
  op: Extract<Op, { kind: Kind }>,
) => string

/** Whether an op's delta reads the site value (additive ops do not, so no input needs computing for them). */
export function readsInput(op: Op): boolean {
  return op.kind !== 'add' && op.kind !== 'addAt'
}
