// @vitest-environment happy-dom
import { flushPromises, mount, type VueWrapper } from '@vue/test-utils'
import { createPinia } from 'pinia'
import { afterEach, describe, expect, test } from 'vitest'
import { defineComponent, h } from 'vue'
import { setClient } from '../../src/renderer/src/api.ts'
import { optionLabel } from '../../src/renderer/src/format.ts'
import FitScreen from '../../src/renderer/src/screens/FitScreen.vue'
import { createClient } from '../../src/shared/contract-client.ts'
import type { LayerDiagnosticsReport } from '../../src/shared/layer-diagnostics.ts'
import type { FitResult } from '../../src/shared/steering.ts'
import { createFakeBridge, sampleModel, sampleStatus, type FakeBridge } from './fake-bridge.ts'
import { itemEntries, meanDiff, pairsEntry, report } from './fit-evaluate-fixtures.ts'

/** The Fit screen against a fake bridge: set and method with defaults, diagnostics job and chart, fit job. */

/** Stands in for vue-echarts' chart (happy-dom has no canvas): keeps the option, re-emits clicks. */
const ChartStub = defineComponent({
  name: 'Echarts',
  props: { option: { type: Object, required: true } },
  emits: ['click'],
  setup: () => () => h('div', { class: 'chart-stub' }),
})

let wrapper: VueWrapper | null = null
afterEach(() => {
  wrapper?.unmount()
  wrapper = null
})

function fitBridge(): FakeBridge {
  const fake = createFakeBridge({ ...sampleStatus(), model: sampleModel(), modelProblem: null })
  fake.answers['datasets:list'] = () => ({
    ok: true,
    result: { datasets: [...itemEntries, pairsEntry], bundledDirectory: '/data' },
  })
  fake.answers['methods:list'] = () => ({ ok: true, result: { methods: [meanDiff], layerCount: 6 } })
  fake.answers['diagnostics:layers'] = () => ({
    ok: true,
    result: { id: 'diagnose-job', kind: 'diagnostics' },
  })
  fake.answers['edit:fit'] = () => ({ ok: true, result: { id: 'fit-job', kind: 'fit' } })
  fake.answers['job:cancel'] = () => ({ ok: true, result: { cancelled: true } })
  return fake
}

async function openFit(fake: FakeBridge): Promise<VueWrapper> {
  setClient(createClient(fake.bridge))
  wrapper = mount(FitScreen, { global: { plugins: [createPinia()], stubs: { Echarts: ChartStub } } })
  await flushPromises()
  return wrapper
}

describe('Fit screen', () => {
  test('offers only sets with training pairs and the method’s options at their paper defaults, explained', async () => {
    const screen = await openFit(fitBridge())
    expect(screen.get('[data-testid=fit-dataset]').text()).toContain('sentiment.pairs · 128 training pairs')
    expect(screen.get('[data-testid=method-summary]').text()).toContain(
      'Mean difference of positive and negative',
    )
    expect(screen.get('[data-testid=fit-layers] input').attributes('placeholder')).toBe('default: 2')
    const selector = screen.get('[data-testid=option-selector]')
    expect(selector.text()).toContain('completionMean')
    expect(selector.get('.option-label').text()).toBe('Selector')
    expect(selector.get('.option-label').attributes('title')).toBe('selector')
    expect(selector.text()).toContain('Which tokens are read. Paper default: "completionMean".')
    expect(screen.get('[data-testid=fit-start]').text()).toBe('Fit mean-diff at default layers')
  })

  test('diagnostics run as a job, chart the layers, and one click fits at the recommended layer', async () => {
    const fake = fitBridge()
    const screen = await openFit(fake)
    await screen.get('[data-testid=diagnose-button]').trigger('click')
    await flushPromises()
    expect(fake.calls.find((call) => call.name === 'diagnostics:layers')?.args).toEqual({
      dataset: pairsEntry.path,
      method: 'mean-diff',
      options: { selector: 'completionMean' },
    })
    fake.emit('job:progress', {
      id: 'diagnose-job',
      kind: 'diagnostics',
      fraction: 0.4,
      message: 'Captured 24 of 64 pairs',
    })
    await flushPromises()
    expect(screen.get('[data-testid=diagnostics-progress]').text()).toContain('Captured 24 of 64 pairs')
    fake.emit('job:done', { id: 'diagnose-job', kind: 'diagnostics', outcome: 'succeeded', result: report })
    await flushPromises()

    const chart = screen.getComponent(ChartStub)
    const option = chart.props('option') as { series: { name: string; data: unknown[] }[] }
    const bars = option.series[0]?.data as { value: number; label: { show: boolean } }[]
    expect(bars.map((bar) => bar.value)).toEqual([90, 90, 90, 100, 90, 90])
    expect(bars.map((bar) => bar.label.show)).toEqual([false, false, false, true, false, false])
    expect(option.series[1]?.data).toEqual([1, 2, 3, 4, 5, 6])
    expect(option.series[2]?.data).toEqual([100, 200, 300, 400, 500, 600])
    expect(screen.get('[data-testid=diagnostics-reason]').text()).toBe(report.reason)

    // A click on layer 1's bar chooses it; the recommendation button brings layer 3 back.
    chart.vm.$emit('click', { dataIndex: 1 })
    await flushPromises()
    expect((screen.get('[data-testid=fit-layers] input').element as HTMLInputElement).value).toBe('1')
    await screen.get('[data-testid=use-recommended-layer]').trigger('click')
    await flushPromises()
    expect((screen.get('[data-testid=fit-layers] input').element as HTMLInputElement).value).toBe('3')
    expect(screen.get('[data-testid=use-recommended-layer]').text()).toBe('Using layer 3')

    await screen.get('[data-testid=fit-start]').trigger('click')
    await flushPromises()
    expect(fake.calls.find((call) => call.name === 'edit:fit')?.args).toEqual({
      dataset: pairsEntry.path,
      method: 'mean-diff',
      options: { selector: 'completionMean', layers: [3] },
    })
  })

  test('the fit shows progress with time left, cancels, and summarises the fitted edit', async () => {
    const fake = fitBridge()
    const screen = await openFit(fake)
    await screen.get('[data-testid=fit-start]').trigger('click')
    await flushPromises()
    fake.emit('job:progress', {
      id: 'fit-job',
      kind: 'fit',
      fraction: 0.5,
      message: 'Captured 64 of 128 pairs',
    })
    await flushPromises()
    expect(screen.get('[data-testid=fit-progress]').text()).toContain('Captured 64 of 128 pairs')
    expect(screen.get('[data-testid=fit-progress-eta]').text()).toMatch(/^about \d+ s left$/)
    expect(screen.get('[data-testid=fit-start]').attributes('disabled')).toBeDefined()
    await screen.get('[data-testid=fit-progress-cancel]').trigger('click')
    await flushPromises()
    expect(fake.calls.find((call) => call.name === 'job:cancel')?.args).toEqual({ id: 'fit-job' })
    fake.emit('job:done', { id: 'fit-job', kind: 'fit', outcome: 'cancelled' })
    await flushPromises()
    expect(screen.get('[data-testid=fit-progress]').text()).toContain('Cancelled.')

    await screen.get('[data-testid=fit-start]').trigger('click')
    await flushPromises()
    const result: FitResult = {
      editId: 'edit-1',
      summary: {
        method: 'mean-diff',
        site: 'resid_post',
        selector: 'completionMean',
        layers: [2],
        interventions: 1,
        pairs: 128,
        dataset: { source: pairsEntry.path, hash: '0123456789abcdef', size: 176 },
        notes: ['layer 2: ‖v‖ = 12.5'],
      },
    }
    fake.emit('job:done', { id: 'fit-job', kind: 'fit', outcome: 'succeeded', result })
    await flushPromises()
    const summary = screen.get('[data-testid=fit-result]').text()
    expect(summary).toContain('128 training pairs')
    expect(summary).toContain('sentiment.pairs.jsonl · 0123456789ab')
    expect(summary).toContain('layer 2: ‖v‖ = 12.5')
  })

  test('after a fit, diagnostics measure the fitted edit at the chosen strength: a norm line and cosines', async () => {
    const fake = fitBridge()
    const screen = await openFit(fake)
    expect(screen.find('[data-testid=diagnose-strength]').exists()).toBe(false)
    await screen.get('[data-testid=fit-start]').trigger('click')
    await flushPromises()
    const result: FitResult = {
      editId: 'edit-1',
      summary: {
        method: 'mean-diff',
        site: 'resid_post',
        selector: 'completionMean',
        layers: [2],
        interventions: 1,
        pairs: 128,
        dataset: { source: pairsEntry.path, hash: '0123456789abcdef', size: 176 },
        notes: [],
      },
    }
    fake.emit('job:done', { id: 'fit-job', kind: 'fit', outcome: 'succeeded', result })
    await flushPromises()
    // The method's default strength, which the user changes before diagnosing.
    const strength = screen.get('[data-testid=diagnose-strength] input')
    expect((strength.element as HTMLInputElement).value).toBe('1')
    await strength.setValue('2.5')
    await strength.trigger('blur')
    await screen.get('[data-testid=diagnose-button]').trigger('click')
    await flushPromises()
    expect(fake.calls.find((call) => call.name === 'diagnostics:layers')?.args).toEqual({
      dataset: pairsEntry.path,
      method: 'mean-diff',
      options: { selector: 'completionMean' },
      edit: { id: 'edit-1', strength: 2.5 },
    })
    const edited: LayerDiagnosticsReport = {
      ...report,
      rows: report.rows.map((row) => ({ ...row, editedMeanNorm: row.meanNorm + (row.layer >= 2 ? 55 : 0) })),
      edited: {
        editId: 'edit-1',
        method: 'mean-diff',
        strength: 2.5,
        layers: [2],
        cosines: [
          {
            layer: 2,
            site: 'resid_post',
            otherId: 'edit-0',
            otherLabel: 'caa · refusal · layer 2',
            otherMethod: 'caa',
            own: 'vector',
            other: 'vector',
            cosine: -0.41234,
          },
        ],
      },
    }
    fake.emit('job:done', { id: 'diagnose-job', kind: 'diagnostics', outcome: 'succeeded', result: edited })
    await flushPromises()
    const option = screen.getComponent(ChartStub).props('option') as {
      series: { name: string; data: unknown[] }[]
    }
    expect(option.series[3]?.name).toBe('norm after edit (α 2.5)')
    expect(option.series[3]?.data).toEqual([100, 200, 355, 455, 555, 655])
    const table = screen.get('[data-testid=edit-directions]')
    expect(table.text()).toContain('caa · refusal · layer 2')
    expect(table.text()).toContain('the two directions (signed)')
    expect(screen.get('[data-testid=edit-direction-cosine]').text()).toBe('-0.412')
  })

  test('a refused diagnosis shows the engine’s sentence', async () => {
    const fake = fitBridge()
    fake.answers['diagnostics:layers'] = () => ({
      ok: false,
      error: {
        code: 'model-not-loaded',
        message: 'No model is ready to diagnose layers. Load a model first.',
      },
    })
    const screen = await openFit(fake)
    await screen.get('[data-testid=diagnose-button]').trigger('click')
    await flushPromises()
    expect(screen.get('[data-testid=diagnostics-error]').text()).toBe(
      'No model is ready to diagnose layers. Load a model first.',
    )
  })

  test('option names become labels in words', () => {
    expect(
      ['learningRate', 'neutralMaxNewTokens', 'topK', 'rank', 'phi', 'batchSize'].map(optionLabel),
    ).toEqual(['Learning rate', 'Neutral max new tokens', 'Top-k', 'Rank', 'Feature map φ', 'Batch size'])
  })
})
