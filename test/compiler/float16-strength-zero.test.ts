import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { hookSites } from '../../src/shared/edit.ts'
import { compileGraph } from '../../src/main/core/edits/compiler/compile.ts'
import { steeringInputs } from '../../src/main/core/edits/steered-generation.ts'
import { locateHookSites } from '../../src/main/core/models/locator/index.ts'
import { forwardBatch } from '../../src/main/core/runtime/forward.ts'
import { loadModel, type LoadedModel } from '../../src/main/core/runtime/model.ts'
import { buildTinyModel } from '../helpers/tiny-models.ts'
import { testModels } from './models.ts'
import { allPositions, editOf, opsFor } from './support.ts'

/**
 * float16 graphs on the CPU provider: strength 0 must give the base logits bit for bit at every layer and every
 * site, for an additive and an ablation (project-remove) edit, with and without the site exposed as a hook. ONNX
 * Runtime runs float16 nodes without a CPU kernel in float32 between casts it inserts, and an edit that changes
 * which nodes those are changes the base numerics.
 */
const rows = [[5, 6, 7, 8, 9]]

const float16Models = [
  ...testModels.filter((model) => model.activationType === 'float16'),
  { name: 'tiny builder fp16', create: () => buildTinyModel({ family: 'builder', dtype: 'float16' }) },
]

describe.each(float16Models)('strength 0 is the base model at every site of $name', ({ create }) => {
  let folder = ''
  let base: LoadedModel
  let baseLogits: number[] = []
  let layers = 0

  beforeAll(async () => {
    folder = await create()
    base = await loadModel(folder, { provider: 'cpu' })
    const result = await forwardBatch(base, rows, { fetch: ['logits'] })
    baseLogits = Array.from(result.outputs.logits?.data as Uint16Array)
    layers = (await locateHookSites(folder)).layers.length
  })
  afterAll(async () => {
    await base.dispose()
  })

  it('every layer × site: add and project-remove, and add with the site hooked', async () => {
    const widths = (await locateHookSites(folder)).widths
    const failures: string[] = []
    let checked = 0
    for (let layer = 0; layer < layers; layer++) {
      for (const site of hookSites) {
        const [add, , , remove] = opsFor(widths[site], 7 + layer)
        // Without hooks (generation), and with the site exposed (capture, and the compiler tests' reads).
        const variants = [
          { op: add, hooked: false },
          { op: remove, hooked: false },
          { op: add, hooked: true },
        ]
        for (const { op, hooked } of variants) {
          if (op === undefined) throw new Error('opsFor lost an op')
          const edit = editOf(`${site}-${layer}-${op.kind}`, [{ layer, site, positions: allPositions, op }])
          const compiled = await compileGraph(folder, {
            edits: [edit],
            ...(hooked ? { hooks: [{ layer, site }], exposeEditInputs: true } : {}),
          })
          const model = await loadModel(folder, {
            provider: 'cpu',
            graphFile: compiled.graphFile,
            tokenizer: base.tokenizer,
          })
          try {
            const result = await forwardBatch(model, rows, {
              fetch: ['logits'],
              extraInputs: steeringInputs(compiled, [0]),
            })
            const logits = result.outputs.logits?.data as Uint16Array
            const differing = baseLogits.filter((value, index) => value !== logits[index]).length
            const name = `${site}[${layer}] ${op.kind}${hooked ? ' hooked' : ''}`
            if (differing > 0) failures.push(`${name}: ${differing} logits differ`)
            checked += 1
          } finally {
            await model.dispose()
          }
        }
      }
    }
    expect(failures).toEqual([])
    expect(checked).toBe(layers * hookSites.length * 3)
  })
})
