import type { Lowering } from './lowering.ts'

/**
 * `project` (directional ablation, projections) with orthonormal basis rows B `[rank, width]`:
 *   keep     delta = α·mask · (BᵀB h − h)
 *   remove   delta = −α·mask · BᵀB h
 * BᵀB h is two thin MatMuls, `[batch, seq, width] → [batch, seq, rank] → [batch, seq, width]`.
 */
export const lowerProject: Lowering<'project'> = (context, input, op) => {
  const { editor, label, width } = context
  const transposed = new Float32Array(width * op.rank)
  for (let row = 0; row < op.rank; row++) {
    for (let column = 0; column < width; column++)
      transposed[column * op.rank + row] = op.basis[row * width + column] ?? 0
  }
  const basisColumns = editor.constant(`${label}/basis_t`, 'float32', [width, op.rank], transposed)
  const basisRows = editor.constant(
    `${label}/basis`,
    'float32',
    [op.rank, width],
    op.basis.subarray(0, op.rank * width),
  )
  const coordinates = editor.node('MatMul', [input, basisColumns], { name: `${label}/coordinates` })
  const projected = editor.node('MatMul', [coordinates, basisRows], { name: `${label}/projected` })
  if (op.mode === 'keep') {
    const change = editor.node('Sub', [projected, input], { name: `${label}/Sub` })
    return editor.node('Mul', [context.gate, change], { name: `${label}/Mul` })
  }
  const removed = editor.node('Mul', [context.gate, projected], { name: `${label}/Mul` })
  return editor.node('Neg', [removed], { name: `${label}/Neg` })
}
