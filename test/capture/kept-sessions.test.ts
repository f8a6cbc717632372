import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { captureActivations, type CaptureOptions } from '../../src/main/core/capture/capture.ts'
import { loadHookedModel } from '../../src/main/core/capture/hooked-model.ts'
import { forwardBatch } from '../../src/main/core/runtime/forward.ts'
import { loadModel, type LoadedModel } from '../../src/main/core/runtime/model.ts'
import { maxDifference } from '../compiler/support.ts'
import { buildTinyModel } from '../helpers/tiny-models.ts'

const rows = [
  [1, 5, 6, 7],
  [1, 8, 9],
]

/** Counts the releases of `model`'s session (the spy forwards to ONNX Runtime). */
function watchRelease(model: LoadedModel) {
  return vi.spyOn(model.session, 'release')
}

describe('hooks-only sessions kept beside a small model', () => {
  let folder = ''
  let model: LoadedModel

  beforeAll(async () => {
    folder = await buildTinyModel({ family: 'builder', config: { numLayers: 3 } })
    model = await loadModel(folder, { provider: 'cpu' })
  })
  afterAll(async () => {
    await model.dispose()
  })

  it('reuses the session of the same hooks and captures the same values', async () => {
    const first = await loadHookedModel(model, 'resid_post', [0, 1])
    const reference = await forwardBatch(first, rows, { fetch: ['hook.resid_post.1'] })
    await first.dispose()
    expect(model.companions.size).toBe(1)
    const kept = [...model.companions.values()][0] as LoadedModel
    const release = watchRelease(kept)
    const second = await loadHookedModel(model, 'resid_post', [0, 1])
    expect(second.session).toBe(kept.session)
    const again = await forwardBatch(second, rows, { fetch: ['hook.resid_post.1'] })
    expect(again.outputs['hook.resid_post.1']?.data).toEqual(reference.outputs['hook.resid_post.1']?.data)
    await second.dispose()
    await second.dispose()
    expect(release).not.toHaveBeenCalled()
    const examples = rows.map((tokens, index) => {
      const side = {
        text: '',
        tokenIds: tokens,
        prompt: { start: 0, end: 2 },
        completion: { start: 2, end: tokens.length },
        lastPromptToken: 1,
        assistantStart: 2,
        answerLetter: undefined,
        padding: 0,
      }
      return { id: `row-${index}`, lines: [index + 1], positive: side, negative: side }
    })
    const options: CaptureOptions = {
      site: 'resid_post',
      selector: 'last',
      layers: [0, 1],
      cacheDirectory: false,
    }
    const captured = await captureActivations(model, examples, options)
    expect(model.companions.size).toBe(1)
    const expected = (reference.outputs['hook.resid_post.1']?.data as Float32Array).subarray(
      3 * captured.width,
      4 * captured.width,
    )
    // Another batch shape may round differently in the last bits.
    expect(maxDifference(captured.positive[1]?.subarray(0, captured.width) ?? [], expected)).toBeLessThan(
      1e-5,
    )
  })

  it('keeps two graphs, releasing the least recently used one once no capture uses it', async () => {
    const held = await loadHookedModel(model, 'resid_post', [2])
    const heldRelease = watchRelease([...model.companions.values()].at(-1) as LoadedModel)
    const other = await loadHookedModel(model, 'mlp_out', [0])
    await other.dispose()
    // A third graph evicts `held` (used before `mlp_out`), which is still in use: it stays open until disposed.
    const third = await loadHookedModel(model, 'resid_post', [1])
    await third.dispose()
    expect(model.companions.size).toBe(2)
    expect(heldRelease).not.toHaveBeenCalled()
    const result = await forwardBatch(held, rows, { fetch: ['hook.resid_post.2'] })
    expect(result.outputs['hook.resid_post.2']?.dims).toEqual([2, 4, model.config.hiddenSize])
    await held.dispose()
    expect(heldRelease).toHaveBeenCalledTimes(1)
  })

  it('releases the kept sessions with the model', async () => {
    const own = await loadModel(folder, { provider: 'cpu' })
    const hooked = await loadHookedModel(own, 'resid_post', [0])
    await hooked.dispose()
    const release = watchRelease([...own.companions.values()][0] as LoadedModel)
    await own.dispose()
    expect(release).toHaveBeenCalledTimes(1)
    expect(own.companions.size).toBe(0)
  })
})
