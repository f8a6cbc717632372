import { describe, expect, it } from 'vitest'
import { fitEdit } from '../../src/main/core/methods/index.ts'
import { meanDiff } from '../../src/main/core/methods/mean-diff.ts'
import { contrastCase, layerSet } from './synthetic.ts'

describe('mean-diff (METHODS.md §7.3)', () => {
  it('is mean(h⁺) − mean(h⁻), unnormalized, added at every position', async () => {
    const width = 16
    const { positive, negative, activations } = contrastCase({
      site: 'resid_post',
      selector: 'completionMean',
      layer: 2,
      width,
      rows: 40,
      seed: 11,
    })
    const { edit } = await fitEdit(meanDiff, activations, {})
    expect(edit.options).toEqual({ selector: 'completionMean' })
    const [intervention] = edit.interventions
    expect(intervention!.positions).toEqual({ kind: 'all' })
    if (intervention!.op.kind !== 'add') throw new Error('expected add')
    for (let column = 0; column < width; column++) {
      let positiveSum = 0
      let negativeSum = 0
      for (let row = 0; row < 40; row++) {
        positiveSum += positive[row * width + column]!
        negativeSum += negative[row * width + column]!
      }
      expect(intervention!.op.vector[column]).toBeCloseTo(positiveSum / 40 - negativeSum / 40, 6)
    }
  })

  it('reads the last prompt token with the contrast rendered into the user turn when asked', async () => {
    expect(meanDiff.capture({ layers: [1], selector: 'lastPrompt' }, 4)).toEqual({
      site: 'resid_post',
      selector: 'lastPrompt',
      layers: [1],
      render: { contrast: 'prompt' },
    })
    const activations = layerSet({
      site: 'resid_post',
      selector: 'completionMean',
      layer: 0,
      width: 1,
      positive: Float32Array.of(1),
      negative: Float32Array.of(0),
    })
    await expect(fitEdit(meanDiff, activations, { selector: 'lastPrompt' })).rejects.toThrow(
      /resid_post\/lastPrompt/,
    )
    await expect(fitEdit(meanDiff, activations, { selector: 'middle' })).rejects.toThrow(/option "selector"/)
  })
})
