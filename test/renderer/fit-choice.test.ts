// @vitest-environment happy-dom
import type { VueWrapper } from '@vue/test-utils'
import { afterEach, describe, expect, test } from 'vitest'
import type { MethodDescription } from '../../src/shared/steering.ts'
import { createFakeBridge, sampleModel, sampleStatus, type FakeBridge } from './fake-bridge.ts'
import { itemEntries, meanDiff, pairsEntry } from './fit-evaluate-fixtures.ts'
import { mountStudio, settle } from './mount-studio.ts'

/** The Fit screen's method, options and layers are its own: choosing there leaves the Compare workbench alone. */

const caa: MethodDescription = {
  ...meanDiff,
  id: 'caa',
  summary: 'Contrastive activation addition at the answer letter.',
  options: [meanDiff.options[0] as MethodDescription['options'][number]],
  defaults: {},
  defaultLayers: [3],
}

let wrapper: VueWrapper | null = null
afterEach(() => {
  wrapper?.unmount()
  wrapper = null
})

function bridge(): FakeBridge {
  const fake = createFakeBridge({ ...sampleStatus(), model: sampleModel(), modelProblem: null })
  fake.answers['datasets:list'] = () => ({
    ok: true,
    result: { datasets: [...itemEntries, pairsEntry], bundledDirectory: '/data' },
  })
  fake.answers['methods:list'] = () => ({ ok: true, result: { methods: [meanDiff, caa], layerCount: 6 } })
  return fake
}

function fitLayers(app: VueWrapper): string {
  return (app.get('[data-testid=fit-layers] input').element as HTMLInputElement).value
}

function compareLayers(app: VueWrapper): string {
  return (app.get('#fit-layers').element as HTMLInputElement).value
}

describe('the Fit screen’s own choice', () => {
  test('method and layers chosen on Fit do not change Compare’s, nor the other way round', async () => {
    const app = await mountStudio(bridge(), 'fit')
    wrapper = app
    await app.get('[data-testid=fit-layers] input').setValue('4')
    await settle()
    expect(app.get('[data-testid=fit-start]').text()).toBe('Fit mean-diff at layer 4')

    await app.get('[data-testid=nav-compare]').trigger('click')
    await settle()
    expect((app.get('#method-select').element as HTMLSelectElement).value).toBe('mean-diff')
    expect(compareLayers(app)).toBe('')
    await app.get('#method-select').setValue('caa')
    await app.get('#fit-layers').setValue('1')
    await settle()
    expect(app.get('#fit-title').element.closest('section')?.textContent).toContain(caa.summary)

    await app.get('[data-testid=nav-fit]').trigger('click')
    await settle()
    expect(fitLayers(app)).toBe('4')
    expect(app.get('[data-testid=method-summary]').text()).toContain(meanDiff.summary)
    expect(app.get('[data-testid=fit-start]').text()).toBe('Fit mean-diff at layer 4')

    await app.get('[data-testid=nav-compare]').trigger('click')
    await settle()
    expect((app.get('#method-select').element as HTMLSelectElement).value).toBe('caa')
    expect(compareLayers(app)).toBe('1')
  })
})
