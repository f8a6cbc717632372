import type { Lowering } from './lowering.ts'

/** `scale` (SADI): delta = α·mask · (h ⊙ factors), i.e. h·(1 + α m) at full strength. factors `[width]`. */
export const lowerScale: Lowering<'scale'> = (context, input, op) => {
  const { editor, label, width } = context
  const factors = editor.constant(`${label}/factors`, 'float32', [width], op.factors)
  const scaled = editor.node('Mul', [input, factors], { name: `${label}/scaled` })
  return editor.node('Mul', [context.gate, scaled], { name: `${label}/Mul` })
}
