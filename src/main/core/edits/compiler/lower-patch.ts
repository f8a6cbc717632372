import type { Op } from '../../../../shared/edit.ts'
import type { LoweringContext } from './lowering.ts'

/**
 * `patch` (SADI's patch mode, METHODS.md §6.3): at the gated position the site value is replaced, not shifted,
 * by the clean value c recorded there by a strength-0 pass over the same prefix, edited as live mode edits h:
 *   patched = c + g·(c ⊙ factors)                 g = α·mask `[batch, seq, 1]`, c `[batch, 1, width]`
 *   h'      = g == 0 ? h : patched                (every element of the site, masked or not)
 * So unmasked elements are frozen to their clean values, and where g is 0 (strength 0, other positions, base
 * rows) the graph picks h itself: no arithmetic touches it, and strength 0 is the base model bit for bit even if
 * the recorded c differed from h in the last bit.
 */

/** The replacement `patched` `[batch, seq, width]` float32 and the condition `g == 0` `[batch, seq, 1]`. */
export function lowerPatch(
  context: LoweringContext,
  clean: string,
  op: Extract<Op, { kind: 'patch' }>,
): { patched: string; untouched: string } {
  const { editor, label, width } = context
  const shape = editor.constant(
    `${label}/clean_shape`,
    'int64',
    [3],
    BigInt64Array.of(-1n, 1n, BigInt(width)),
  )
  // [batch, width] → [batch, 1, width], broadcast over the sequence
  const column = editor.node('Reshape', [clean, shape], { name: `${label}/clean` })
  const factors = editor.constant(`${label}/factors`, 'float32', [width], op.factors)
  const scaled = editor.node('Mul', [column, factors], { name: `${label}/scaled` })
  const gated = editor.node('Mul', [context.gate, scaled], { name: `${label}/Mul` })
  const patched = editor.node('Add', [column, gated], { name: `${label}/patched` })
  const zero = editor.constant(`${label}/zero`, 'float32', [], Float32Array.of(0))
  const untouched = editor.node('Equal', [context.gate, zero], { name: `${label}/untouched` })
  return { patched, untouched }
}
