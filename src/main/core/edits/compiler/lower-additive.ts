import type { Lowering } from './lowering.ts'

/**
 * Additive ops (CAA, mean-diff, PCA, ITI, ActAdd):
 *   add     delta = α·mask · v                                  v [width]
 *   addAt   delta = α·mask · vectors[t] for real token index t < count, else 0   (front-aligned, ActAdd)
 */

/** `add`: `[batch, seq, 1] · [width] → [batch, seq, width]`. */
export const lowerAdd: Lowering<'add'> = (context, _input, op) => {
  const vector = context.editor.constant(`${context.label}/vector`, 'float32', [context.width], op.vector)
  return context.editor.node('Mul', [context.gate, vector], { name: `${context.label}/Mul` })
}

/** `addAt`: gathers row min(t, count) of `[count + 1, width]` (the extra row is zero), then gates it. */
export const lowerAddAt: Lowering<'addAt'> = (context, _input, op) => {
  const { editor, label, width } = context
  const padded = new Float32Array((op.count + 1) * width)
  padded.set(op.vectors.subarray(0, op.count * width))
  const vectors = editor.constant(`${label}/vectors`, 'float32', [op.count + 1, width], padded)
  const last = editor.constant(`${label}/count`, 'int64', [], BigInt64Array.of(BigInt(op.count)))
  const row = editor.node('Min', [context.tokenIndex(), last], { name: `${label}/Min` })
  const gathered = editor.node('Gather', [vectors, row], { name: `${label}/Gather`, attributes: { axis: 0 } })
  return editor.node('Mul', [context.gate, gathered], { name: `${label}/Mul` })
}
