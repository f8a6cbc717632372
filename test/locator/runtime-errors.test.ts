import { readdirSync, statSync, truncateSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { isTillerError } from '../../src/main/core/errors.ts'
import { locateHookSites } from '../../src/main/core/models/locator/index.ts'
import { buildTinyModel } from '../helpers/tiny-models.ts'

/**
 * The locator's validation pass runs the graph in ONNX Runtime; ONNX Runtime's own failures (here: external data
 * cut in half, so an initializer reads past its end) come back as one TillerError line naming the graph, not as
 * the raw runtime error.
 */
describe("the locator's validation run", () => {
  it('reports an ONNX Runtime failure as one line naming the graph and what to do', async () => {
    const folder = await buildTinyModel({ family: 'builder' })
    const graphFolder = join(folder, 'onnx')
    const data = readdirSync(graphFolder).filter((name) => name.endsWith('.onnx_data'))
    expect(data).toHaveLength(1)
    const dataPath = join(graphFolder, data[0] ?? '')
    truncateSync(dataPath, Math.floor(statSync(dataPath).size / 2))
    const error: unknown = await locateHookSites(folder, { cache: false }).then(
      () => undefined,
      (caught: unknown) => caught,
    )
    expect(isTillerError(error, 'invalid-model-folder'), String(error)).toBe(true)
    const message = (error as Error).message
    expect(message.split('\n')).toHaveLength(1)
    expect(message).toContain(join(graphFolder, 'model.onnx'))
    expect(message).toContain('ONNX Runtime cannot run the graph to validate its hook sites')
    expect(message).toContain('export or download it again')
    // ONNX Runtime's reason is kept inside the line.
    expect(message).toMatch(/out of bounds|can not be read/)
  })
})
