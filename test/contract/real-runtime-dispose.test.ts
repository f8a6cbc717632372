import { describe, expect, it, vi } from 'vitest'
import { createRealRuntime } from '../../src/main/core/engine.ts'
import { buildTinyModel } from '../helpers/tiny-models.ts'

describe('the real runtime releases what is set on its model after loading', () => {
  it('disposes the model it returned, with the decode session and kept companions set on it later', async () => {
    const runtime = await createRealRuntime()
    const folder = await buildTinyModel({ family: 'builder', config: { numLayers: 2 } })
    const model = await runtime.loadModel(folder, { provider: 'cpu' })
    // What a first decode step and a capture set on the model the engine holds.
    const decodeRelease = vi.fn(async () => {})
    model.decodeSession = Promise.resolve({ release: decodeRelease } as never)
    const companionDispose = vi.fn(async () => {})
    model.companions.set('kept.onnx', { dispose: companionDispose } as never)
    const sessionRelease = vi.spyOn(model.session, 'release')
    await model.dispose()
    expect(sessionRelease).toHaveBeenCalledTimes(1)
    expect(decodeRelease).toHaveBeenCalledTimes(1)
    expect(companionDispose).toHaveBeenCalledTimes(1)
  })
})
