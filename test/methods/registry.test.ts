import { describe, expect, it } from 'vitest'
import {
  additiveMethodIds,
  fitEdit,
  methodById,
  methods,
  trainedMethodIds,
} from '../../src/main/core/methods/index.ts'
import { parseOptions } from '../../src/main/core/methods/method.ts'
import { methodIds } from '../../src/shared/edit.ts'
import { layerSet } from './synthetic.ts'

describe('method registry', () => {
  it('holds every implemented method under its own id, with defaults that pass its schema', async () => {
    const implemented = [...additiveMethodIds, ...trainedMethodIds]
    expect(Object.keys(methods).sort()).toEqual([...implemented].sort())
    for (const id of implemented) {
      const method = methodById(id)
      expect(method.id).toBe(id)
      expect((methodIds as readonly string[]).includes(id)).toBe(true)
      expect(method.optionsSchema.safeParse(method.defaults).success).toBe(true)
      const request = method.capture(parseOptions(method, {}), 8)
      expect(request.layers.every((layer) => layer >= 0 && layer < 8)).toBe(true)
    }
  })

  it('names unknown methods and bad options', async () => {
    expect(() => methodById('sea-lion')).toThrow(/Unknown method "sea-lion"/)
    expect(() => parseOptions(methods.actadd, { coefficient: 'big' })).toThrow(/option "coefficient"/)
    expect(() => parseOptions(methods.caa, { coefficient: 2 })).toThrow(/caa has no option "coefficient"/)
  })

  it('wraps a fit as a versioned Edit whose options survive JSON', async () => {
    const activations = layerSet({
      site: 'resid_post',
      selector: 'last',
      layer: 1,
      width: 2,
      positive: Float32Array.of(1, 0, 2, 0, 3, 1),
      negative: new Float32Array(6),
    })
    const { edit, fit } = await fitEdit(
      methods['pca-diff'],
      activations,
      { layers: [1] },
      { notes: 'hand case' },
    )
    expect(edit.version).toBe(1)
    expect(edit.method).toBe('pca-diff')
    expect(edit.options).toEqual({ layers: [1] })
    expect(edit.notes.split('\n')[0]).toBe('hand case')
    expect(edit.notes).toContain(fit.notes[0])
    expect(Number.isNaN(Date.parse(edit.created))).toBe(false)
  })
})
