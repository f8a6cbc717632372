import * as ort from 'onnxruntime-node'
import type { Op } from '../../src/shared/edit.ts'
import { lowerHouseholder } from '../../src/main/core/edits/compiler/lower-householder.ts'
import { lowerSpectral } from '../../src/main/core/edits/compiler/lower-spectral.ts'
import type { LoweringContext } from '../../src/main/core/edits/compiler/lowering.ts'
import { GraphEditor } from '../../src/main/core/models/locator/graph-editor.ts'
import { GraphBuilder, tensorValueInfo } from '../../src/main/core/onnx/builder.ts'
import { encodeModel } from '../../src/main/core/onnx/proto.ts'

/**
 * One op's lowering alone in a graph: inputs `h` float32 `[1, tokens, width]` and `gate` `[1, tokens, 1]`, output
 * `h + delta`. Opset 14 by default, the oldest opset among the test graphs (the onnxruntime-genai fixture), so the
 * lowering is checked against the ops that graph allows; 18 and later take reduction axes as an input. For hand cases and many random tokens without a model around them.
 */
export async function runLowering(
  op: Extract<Op, { kind: 'spectral' | 'householder' }>,
  h: Float32Array,
  gates: Float32Array,
  width: number,
  opset = 14,
): Promise<Float32Array> {
  const builder = new GraphBuilder({ name: 'lowering', opsets: { '': opset } })
  builder.input('h', 'float32', [1, 'tokens', width])
  builder.input('gate', 'float32', [1, 'tokens', 1])
  const model = builder.toModel()
  const editor = new GraphEditor(model)
  const scaledGates = new Map<number, string>()
  const context: LoweringContext = {
    editor,
    gate: 'gate',
    scaledGate: (factor) => {
      const known = scaledGates.get(factor)
      if (known !== undefined) return known
      const constant = editor.constant('factor', 'float32', [], Float32Array.of(factor))
      const scaled = editor.node('Mul', ['gate', constant], { name: 'scaled_gate' })
      scaledGates.set(factor, scaled)
      return scaled
    },
    width,
    label: 'edit',
    tokenIndex: () => {
      throw new Error('not used')
    },
  }
  const delta = op.kind === 'spectral' ? lowerSpectral(context, 'h', op) : lowerHouseholder(context, 'h', op)
  editor.node('Add', ['h', delta], { name: 'apply', outputs: ['edited'] })
  model.graph.output.push(tensorValueInfo('edited', 'float32', [1, 'tokens', width]))
  const session = await ort.InferenceSession.create(encodeModel(editor.finish()), { logSeverityLevel: 3 })
  try {
    const tokens = h.length / width
    const outputs = await session.run({
      h: new ort.Tensor('float32', h, [1, tokens, width]),
      gate: new ort.Tensor('float32', gates, [1, tokens, 1]),
    })
    return outputs.edited?.data as Float32Array
  } finally {
    await session.release()
  }
}
