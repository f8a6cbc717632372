// @vitest-environment happy-dom
import { flushPromises, mount, type VueWrapper } from '@vue/test-utils'
import { createPinia } from 'pinia'
import { afterEach, describe, expect, test } from 'vitest'
import { defineComponent, h } from 'vue'
import { setClient } from '../../src/renderer/src/api.ts'
import {
  brokenFluencyRanges,
  clickedStrength,
} from '../../src/renderer/src/components/evaluate/sweep-chart-option.ts'
import EvaluateScreen from '../../src/renderer/src/screens/EvaluateScreen.vue'
import { parseStrengths } from '../../src/renderer/src/stores/evaluate-screen.ts'
import { createClient } from '../../src/shared/contract-client.ts'
import type { SweepRow } from '../../src/shared/evaluation.ts'
import { createFakeBridge, sampleModel, sampleStatus, type FakeBridge } from './fake-bridge.ts'
import { fittedEdit, itemEntries, pairsEntry, sampleRun } from './fit-evaluate-fixtures.ts'

/** The Evaluate screen against a fake bridge: choices, the job, the run's numbers and chart, picking a strength. */

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

function evaluateBridge(runs = [sampleRun('older')]): FakeBridge {
  const fake = createFakeBridge({ ...sampleStatus(), model: sampleModel(), modelProblem: null })
  fake.answers['datasets:list'] = () => ({
    ok: true,
    result: { datasets: [...itemEntries, pairsEntry], bundledDirectory: '/data' },
  })
  fake.answers['edits:list'] = () => ({ ok: true, result: [fittedEdit] })
  fake.answers['evaluation:runs'] = () => ({ ok: true, result: { runs, problems: [] } })
  fake.answers['evaluation:run'] = () => ({ ok: true, result: { id: 'evaluate-job', kind: 'evaluate' } })
  fake.answers['edit:set-strength'] = (args) => ({
    ok: true,
    result: {
      ...fittedEdit,
      strength: { ...fittedEdit.strength, default: (args as { strength: number }).strength },
    },
  })
  return fake
}

async function openEvaluate(fake: FakeBridge): Promise<VueWrapper> {
  setClient(createClient(fake.bridge))
  wrapper = mount(EvaluateScreen, { global: { plugins: [createPinia()], stubs: { Echarts: ChartStub } } })
  await flushPromises()
  return wrapper
}

describe('Evaluate screen', () => {
  test('a reload shows the saved runs; the newest edit, its behaviour’s items and its tested range are preset', async () => {
    const screen = await openEvaluate(evaluateBridge())
    expect(screen.findAll('[data-testid=run-entry]')).toHaveLength(1)
    expect(screen.get('[data-testid=evaluation-edit]').text()).toContain(fittedEdit.label)
    expect(screen.get('[data-testid=evaluation-dataset]').text()).toContain('sentiment.mc · 120 items')
    expect((screen.get('[data-testid=evaluation-strengths] input').element as HTMLInputElement).value).toBe(
      '-2, -1.333, -0.667, 0, 0.667, 1.333, 2',
    )
    // The saved run is shown until another is chosen or made.
    expect(screen.get('[data-testid=choice-reason]').text()).toContain(
      'Strength 1 has the best validation MC1',
    )
  })

  test('with no edit yet the empty strengths field is not flagged; a bad list is, once typed or with an edit', async () => {
    const fake = evaluateBridge([])
    fake.answers['edits:list'] = () => ({ ok: true, result: [] })
    const screen = await openEvaluate(fake)
    const field = (): string =>
      screen.get('[data-testid=evaluation-strengths]').element.closest('.n-form-item')?.textContent ?? ''
    expect(screen.get('[data-testid=evaluation-strengths] input').attributes('placeholder')).toBe(
      'e.g. -2, -1, 0, 1, 2',
    )
    expect(field()).toContain('Seven points over the method’s tested range by default')
    expect(field()).not.toContain('Strengths are numbers separated by commas')
    await screen.get('[data-testid=evaluation-strengths] input').setValue('1, two')
    expect(field()).toContain('Strengths are numbers separated by commas')
    await screen.get('[data-testid=evaluation-strengths] input').setValue('')
    expect(field()).not.toContain('Strengths are numbers separated by commas')
    expect(screen.get('[data-testid=evaluation-start]').attributes('disabled')).toBeDefined()
  })

  test('runs an evaluation and shows MC1/MC2 with intervals and chance, shifts, fluency and side effects', async () => {
    const fake = evaluateBridge([])
    const screen = await openEvaluate(fake)
    expect(screen.find('[data-testid=evaluation-run]').exists()).toBe(false)
    await screen.get('[data-testid=evaluation-strengths] input').setValue('−1, 1, 2')
    await screen.get('[data-testid=evaluation-start]').trigger('click')
    await flushPromises()
    expect(fake.calls.find((call) => call.name === 'evaluation:run')?.args).toEqual({
      editId: fittedEdit.id,
      dataset: '/data/sentiment.mc.jsonl',
      strengths: [-1, 1, 2],
      sideEffects: true,
    })
    fake.emit('job:progress', {
      id: 'evaluate-job',
      kind: 'evaluate',
      fraction: 0.25,
      message: 'Side effects on fairness.mc…',
    })
    await flushPromises()
    expect(screen.get('[data-testid=evaluation-progress]').text()).toContain('Side effects on fairness.mc…')
    fake.emit('job:done', { id: 'evaluate-job', kind: 'evaluate', outcome: 'succeeded', result: sampleRun() })
    await flushPromises()

    expect(screen.get('[data-testid=mc1-row]').text()).toBe(
      'MC155.0 % [42.0, 67.0]75.0 % [63.0, 84.0]+20.0 pt50.0 %',
    )
    expect(screen.get('[data-testid=mc2-row]').text()).toContain('68.0 % [60.0, 75.0]')
    expect(screen.get('[data-testid=shift-table]').text()).toContain('25.0 %5.0 %50.0 %20.0 %')
    expect(screen.get('[data-testid=test-results]').text()).toContain('0.02100 nats')
    const side = screen.get('[data-testid=side-effects]').text()
    expect(side).toContain('fairness.mc')
    expect(side).toContain('−40.0 pt')
    expect(side).toContain('intervals apart')
    const rows = screen.findAll('[data-testid=sweep-table] tbody tr')
    expect(rows.map((row) => row.attributes('data-strength'))).toEqual(['0', '1', '2'])
    expect(rows[2]?.text()).toContain('fluency breaks')
    expect(rows[1]?.text()).toContain('chosen')
    expect(screen.findAll('[data-testid=run-entry]')).toHaveLength(1)
  })

  test('the sweep chart marks where fluency breaks, and a click on a point picks that strength for the edit', async () => {
    const fake = evaluateBridge()
    const screen = await openEvaluate(fake)
    const chart = screen.getComponent(ChartStub)
    const option = chart.props('option') as {
      series: { name: string; data: unknown[]; markArea?: { data: { xAxis: number }[][] } }[]
    }
    const mc1 = option.series.find((series) => series.name === 'MC1')
    expect(mc1?.data).toEqual([
      [0, 60],
      [1, 80],
      [2, 90],
    ])
    // Strength 2 breaks fluency: the band runs from the midpoint with 1 to the end.
    expect(mc1?.markArea?.data.map((pair) => pair.map((end) => end.xAxis))).toEqual([[1.5, 2]])
    expect(option.series.find((series) => series.name === 'perplexity')?.data).toEqual([
      [0, 3],
      [1, 3.1],
      [2, 3.6],
    ])
    chart.vm.$emit('click', { value: [2, 90] })
    await flushPromises()
    expect(fake.calls.find((call) => call.name === 'edit:set-strength')?.args).toEqual({
      id: fittedEdit.id,
      strength: 2,
    })
    expect(screen.get('[data-testid=pick-note]').text()).toBe(
      `Strength 2 is now the default of ${fittedEdit.label}.`,
    )
    await screen.get('[data-testid=pick-1]').trigger('click')
    await flushPromises()
    expect(fake.calls.filter((call) => call.name === 'edit:set-strength').at(-1)?.args).toEqual({
      id: fittedEdit.id,
      strength: 1,
    })
  })
})

describe('sweep helpers', () => {
  const row = (strength: number, fluent: boolean): SweepRow => {
    const estimate = { value: 0.5, low: 0.4, high: 0.6 }
    return { strength, mc1: estimate, mc2: estimate, perplexity: 1, klFromBase: 0, fluent }
  }

  test('broken-fluency ranges merge neighbours and reach the midpoints', () => {
    const sweep = [row(-2, false), row(-1, false), row(0, true), row(1, true), row(2, false), row(4, false)]
    expect(brokenFluencyRanges(sweep)).toEqual([
      [-2, -0.5],
      [1.5, 4],
    ])
    expect(brokenFluencyRanges([row(0, true), row(1, true)])).toEqual([])
  })

  test('clicks and strength lists', () => {
    expect(clickedStrength({ value: [1.5, 70] })).toBe(1.5)
    expect(clickedStrength({ value: 70 })).toBeNull()
    expect(parseStrengths('−2, 0 1.5')).toEqual([-2, 0, 1.5])
    expect(parseStrengths('1, x')).toBeNull()
    expect(parseStrengths('')).toBeNull()
  })
})
