import { describe, expect, it } from 'vitest'
import { caa } from '../../src/main/core/methods/caa.ts'
import { fitEdit } from '../../src/main/core/methods/index.ts'
import { activationSet, fingerprint, layerSet } from './synthetic.ts'

describe('CAA (METHODS.md §4.6)', () => {
  it('fits the average of the differences of two hand-made pairs, per layer, from the assistant start', async () => {
    // Two pairs, width 3, layers 1 and 3. Row r of positive/negative is pair r.
    const positive = [Float32Array.of(1, 2, 3, 5, 0, -1), Float32Array.of(0, 0, 0, 2, 2, 2)]
    const negative = [Float32Array.of(0, 2, 1, 1, 1, 1), Float32Array.of(1, 1, 1, 0, 0, 0)]
    const activations = activationSet({
      site: 'resid_post',
      selector: 'answerLetter',
      layers: [1, 3],
      width: 3,
      positive,
      negative,
      rows: 2,
    })
    const { edit } = await fitEdit(caa, activations, {}, { id: 'fixed', created: new Date(0) })
    expect(edit.method).toBe('caa')
    expect(edit.id).toBe('fixed')
    expect(edit.model).toEqual({ ...fingerprint, hiddenSize: 3 })
    expect(
      edit.interventions.map((intervention) => [
        intervention.layer,
        intervention.site,
        intervention.positions,
      ]),
    ).toEqual([
      [1, 'resid_post', { kind: 'fromAssistantStart' }],
      [3, 'resid_post', { kind: 'fromAssistantStart' }],
    ])
    // Layer 1: pair differences (1,0,2) and (4,-1,-2) → mean (2.5,-0.5,0). Layer 3: (-1,-1,-1), (2,2,2) → (0.5,0.5,0.5).
    const vectors = edit.interventions.map((intervention) =>
      intervention.op.kind === 'add' ? Array.from(intervention.op.vector) : [],
    )
    expect(vectors).toEqual([
      [2.5, -0.5, 0],
      [0.5, 0.5, 0.5],
    ])
  })

  it('captures resid_post at the answer letter of the paper layer (13 of 32) and needs letters', async () => {
    expect(caa.capture(caa.defaults, 32)).toEqual({
      site: 'resid_post',
      selector: 'answerLetter',
      layers: [13],
      render: { contrast: 'completion', requireAnswerLetter: true },
    })
    expect(caa.capture({ layers: [3, 1, 3] }, 32).layers).toEqual([1, 3])
    expect(() => caa.capture({ layers: [32] }, 32)).toThrow(/blocks 0…31/)
  })

  it('refuses activations from another site or selector', async () => {
    const activations = layerSet({
      site: 'resid_pre',
      selector: 'answerLetter',
      layer: 0,
      width: 1,
      positive: Float32Array.of(1),
      negative: Float32Array.of(0),
    })
    await expect(async () => caa.fit(activations, {})).rejects.toThrow(/resid_post\/answerLetter/)
  })
})
