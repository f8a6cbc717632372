// @vitest-environment happy-dom
import type { VueWrapper } from '@vue/test-utils'
import { afterEach, describe, expect, test } from 'vitest'
import { starterPrompt } from '../../src/renderer/src/stores/first-run.ts'
import type { DatasetEntry } from '../../src/shared/steering.ts'
import { createFakeBridge, sampleStatus, sampleModel, type FakeBridge } from './fake-bridge.ts'
import { fittedEdit, meanDiff, pairsEntry, report } from './fit-evaluate-fixtures.ts'
import { mountStudio, settle } from './mount-studio.ts'

/** The guided first edit against a fake engine: each step one click, in order, ending in a sent chat message. */

const starter: DatasetEntry = {
  ...pairsEntry,
  name: 'truthfulness.pairs',
  behaviour: 'truthfulness',
  path: '/data/truthfulness.pairs.jsonl',
}

let wrapper: VueWrapper | null = null
afterEach(() => {
  wrapper?.unmount()
  wrapper = null
})

function guideBridge(): FakeBridge {
  const fake = createFakeBridge({ ...sampleStatus(), model: null, modelProblem: null })
  fake.answers['model:load'] = () => ({ ok: true, result: { id: 'load-job', kind: 'model:load' } })
  fake.answers['datasets:list'] = () => ({
    ok: true,
    result: { datasets: [pairsEntry, starter], bundledDirectory: '/data' },
  })
  fake.answers['datasets:preview'] = () => ({
    ok: true,
    result: {
      entry: starter,
      rows: [
        {
          kind: 'pairs',
          line: 1,
          id: 'fox',
          split: 'train',
          prompt: 'Where does the owl live?',
          positive: 'In the forest.',
          negative: 'In the sea.',
        },
      ],
      issues: [],
      moreIssues: 0,
    },
  })
  fake.answers['methods:list'] = () => ({ ok: true, result: { methods: [meanDiff], layerCount: 6 } })
  fake.answers['diagnostics:layers'] = () => ({
    ok: true,
    result: { id: 'diagnose-job', kind: 'diagnostics' },
  })
  fake.answers['edit:fit'] = () => ({ ok: true, result: { id: 'fit-job', kind: 'fit' } })
  fake.answers['edits:list'] = () => ({ ok: true, result: [fittedEdit] })
  fake.answers['chat:list'] = () => ({ ok: true, result: [] })
  fake.answers['chat:send'] = () => ({ ok: true, result: { id: 'chat-job', kind: 'chat' } })
  return fake
}

function stepButton(app: VueWrapper, step: string) {
  return app.get(`[data-testid=first-run-${step}-button]`)
}

describe('the guided first edit', () => {
  test('load, open the starter set, fit at the recommended layer, chat: one click each', async () => {
    const fake = guideBridge()
    const app = await mountStudio(fake, 'models')
    wrapper = app
    // Only the current step can be clicked.
    expect(stepButton(app, 'dataset').attributes('disabled')).toBeDefined()
    await stepButton(app, 'load').trigger('click')
    await settle()
    expect(fake.calls.find((call) => call.name === 'model:load')?.args).toEqual({ path: '/models/organism' })
    fake.emit('model:changed', { model: sampleModel(), loading: null, problem: null })
    await settle()
    expect(app.get('[data-testid=first-run-load]').text()).toContain('done')

    await stepButton(app, 'dataset').trigger('click')
    await settle()
    expect(fake.calls.find((call) => call.name === 'datasets:preview')?.args).toEqual({
      path: starter.path,
      limit: 3,
    })
    expect(app.get('[data-testid=starter-rows]').text()).toContain('Where does the owl live?')
    expect(app.get('[data-testid=first-run-dataset]').text()).toContain('done')

    await stepButton(app, 'fit').trigger('click')
    await settle()
    expect(fake.calls.find((call) => call.name === 'diagnostics:layers')?.args).toMatchObject({
      dataset: starter.path,
      method: 'mean-diff',
    })
    fake.emit('job:progress', {
      id: 'diagnose-job',
      kind: 'diagnostics',
      fraction: 0.5,
      message: 'Captured 8 of 16 pairs',
    })
    await settle()
    expect(app.get('[data-testid=first-run-progress]').text()).toBe('Captured 8 of 16 pairs')
    expect(fake.calls.some((call) => call.name === 'edit:fit')).toBe(false)
    fake.emit('job:done', {
      id: 'diagnose-job',
      kind: 'diagnostics',
      outcome: 'succeeded',
      result: { ...report, dataset: starter.path },
    })
    await settle()
    // The fit starts at the recommended layer by itself.
    expect(fake.calls.find((call) => call.name === 'edit:fit')?.args).toEqual({
      dataset: starter.path,
      method: 'mean-diff',
      options: { selector: 'completionMean', layers: [report.recommendedLayer] },
    })
    fake.emit('job:done', {
      id: 'fit-job',
      kind: 'fit',
      outcome: 'succeeded',
      result: {
        editId: fittedEdit.id,
        summary: {
          method: 'mean-diff',
          site: 'resid_post',
          selector: 'completionMean',
          layers: [report.recommendedLayer],
          interventions: 1,
          pairs: 16,
          dataset: { source: starter.path, hash: 'abc', size: 20 },
          notes: [],
        },
      },
    })
    await settle()
    expect(app.get('[data-testid=first-run-fit]').text()).toContain(
      `Fitted a mean difference at layer ${report.recommendedLayer}`,
    )

    await stepButton(app, 'chat').trigger('click')
    await settle()
    expect(app.get('h1').text()).toBe('Chat')
    const sent = fake.calls.find((call) => call.name === 'chat:send')?.args as {
      message: string
      edits: { id: string; enabled: boolean }[]
    }
    expect(sent.message).toBe(starterPrompt)
    expect(sent.edits).toEqual([expect.objectContaining({ id: fittedEdit.id, enabled: true })])
  })

  test('a refused step shows the engine’s sentence in the studio’s words', async () => {
    const fake = guideBridge()
    fake.answers['model:load'] = () => ({
      ok: false,
      error: {
        code: 'file-not-found',
        message:
          'The default model folder /app/organism is missing; pass --model DIR with a model folder, or restore it.',
      },
    })
    const app = await mountStudio(fake, 'models')
    wrapper = app
    await stepButton(app, 'load').trigger('click')
    await settle()
    expect(app.get('[data-testid=first-run-error]').text()).toBe(
      'The default model folder /app/organism is missing.',
    )
  })
})
