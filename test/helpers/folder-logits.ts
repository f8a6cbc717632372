import { forwardBatch } from '../../src/main/core/runtime/forward.ts'
import { loadModel } from '../../src/main/core/runtime/model.ts'
import type { ExtraInputs } from '../../src/main/core/runtime/step-context.ts'

/** A model folder's logits over `rows` ([rows, positions, vocab] flattened), from `graphFile` when given. */
export async function folderLogits(
  folder: string,
  rows: number[][],
  graphFile?: string,
  extra?: ExtraInputs,
): Promise<Float32Array> {
  const model = await loadModel(folder, {
    provider: 'cpu',
    ...(graphFile === undefined ? {} : { graphFile }),
  })
  try {
    const result = await forwardBatch(model, rows, {
      fetch: ['logits'],
      ...(extra === undefined ? {} : { extraInputs: extra }),
    })
    return Float32Array.from(result.outputs.logits?.data as Float32Array)
  } finally {
    await model.dispose()
  }
}
