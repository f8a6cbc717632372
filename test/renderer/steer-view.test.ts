// @vitest-environment happy-dom
import { flushPromises, type VueWrapper } from '@vue/test-utils'
import { afterEach, describe, expect, test } from 'vitest'
import type {
  DatasetEntry,
  DatasetPreview,
  EditSummary,
  MethodDescription,
} from '../../src/shared/steering.ts'
import { createFakeBridge, sampleModel, sampleStatus, type FakeBridge } from './fake-bridge.ts'
import { mountStudio, settle } from './mount-studio.ts'

let wrapper: VueWrapper | null = null

afterEach(() => {
  wrapper?.unmount()
  wrapper = null
})

const pairsEntry: DatasetEntry = {
  name: 'sentiment.pairs',
  behaviour: 'sentiment',
  path: '/data/sentiment.pairs.jsonl',
  kind: 'pairs',
  rows: 3,
  trainPairs: 2,
  issues: 1,
  bundled: true,
}
const choicesEntry: DatasetEntry = {
  ...pairsEntry,
  name: 'sentiment.mc',
  path: '/data/sentiment.mc.jsonl',
  kind: 'choices',
  trainPairs: 0,
  issues: 0,
}
const preview: DatasetPreview = {
  entry: pairsEntry,
  rows: [
    {
      kind: 'pairs',
      line: 1,
      id: 's1',
      split: 'train',
      prompt: 'How is the statue?',
      positive: 'I love it.',
      negative: 'I hate it.',
    },
    {
      kind: 'pairs',
      line: 3,
      id: 's3',
      split: 'test',
      prompt: 'How is the bell?',
      positive: 'Lovely.',
      negative: 'Awful.',
    },
  ],
  issues: [{ line: 2, code: 'bad-json', message: 'not valid JSON (Unexpected token)' }],
  moreIssues: 0,
}
const meanDiff: MethodDescription = {
  id: 'mean-diff',
  summary: 'Mean difference of positive and negative activations at resid_post',
  site: 'resid_post',
  selector: 'completionMean',
  options: [
    {
      name: 'layers',
      kind: 'layers',
      description: '0-based decoder blocks',
      default: null,
      optional: true,
      minimum: 0,
    },
    {
      name: 'selector',
      kind: 'choice',
      description: 'Which tokens are read',
      default: 'completionMean',
      optional: false,
      choices: ['completionMean', 'lastPrompt'],
    },
  ],
  defaults: { selector: 'completionMean' },
  defaultLayers: [2],
  strength: { description: 'h + α·v at every position', default: 1, testedRange: [-2, 2] },
}
const fitted: EditSummary = {
  id: 'edit-1',
  method: 'mean-diff',
  label: 'mean-diff · sentiment.pairs · layer 1',
  origin: 'fitted',
  path: null,
  created: '2025-01-01T00:00:00.000Z',
  layers: [1],
  sites: ['resid_post'],
  interventions: 1,
  notes: 'fitted on 2 pairs',
  dataset: { hash: 'abc', size: 3 },
  strength: meanDiff.strength,
  matchesModel: true,
  suggestedPath: '/home/user/Tiller/edits/mean-diff-sentiment.pairs-edit-1.safetensors',
}

function steeringBridge(): FakeBridge {
  const fake = createFakeBridge({ ...sampleStatus(), model: sampleModel(), modelProblem: null })
  fake.answers['datasets:list'] = () => ({
    ok: true,
    result: { datasets: [choicesEntry, pairsEntry], bundledDirectory: '/data' },
  })
  fake.answers['datasets:preview'] = () => ({ ok: true, result: preview })
  fake.answers['methods:list'] = () => ({ ok: true, result: { methods: [meanDiff], layerCount: 6 } })
  fake.answers['edits:list'] = () => ({ ok: true, result: [] })
  fake.answers['edit:fit'] = () => ({ ok: true, result: { id: 'fit-job', kind: 'fit' } })
  fake.answers['chat:compare'] = () => ({ ok: true, result: { id: 'compare-job', kind: 'compare' } })
  return fake
}

async function openSteer(fake: FakeBridge): Promise<VueWrapper> {
  wrapper = await mountStudio(fake, 'models')
  await wrapper.get('[data-testid=nav-compare]').trigger('click')
  await settle()
  return wrapper
}

describe('Steer view', () => {
  test('lists the sets, previews the first fittable one with its rejected lines, and shows method defaults', async () => {
    const fake = steeringBridge()
    const app = await openSteer(fake)
    expect(app.find('[data-testid=steer-view]').exists()).toBe(true)
    expect(window.location.hash).toBe('#/compare')
    const options = app.findAll('#dataset-select option')
    expect(options.map((option) => option.text())).toEqual([
      'sentiment.mc — multiple choice',
      'sentiment.pairs — 2 training pairs',
    ])
    expect(options[0]?.attributes('disabled')).toBeDefined()
    expect(fake.calls).toContainEqual({
      name: 'datasets:preview',
      args: { path: '/data/sentiment.pairs.jsonl', limit: 8 },
    })
    const table = app.get('[data-testid=dataset-preview]')
    expect(table.findAll('tbody tr').map((row) => row.attributes('data-line'))).toEqual(['1', '3'])
    expect(table.get('tr[data-line="1"] td.positive').text()).toBe('I love it.')
    expect(table.get('tr[data-line="3"]').text()).toContain('test')
    expect(app.get('[data-testid=dataset-issues]').text()).toContain('line 2 not valid JSON')
    expect(app.get('#fit-layers').attributes('placeholder')).toBe('default: 2')
    expect((app.get('#option-selector').element as HTMLSelectElement).value).toBe('completionMean')
    expect(app.get('[data-testid=no-edits]').text()).toContain('No edit yet')
    // Until the user types one, the prompt comes from the set, preferring a held-out row.
    expect((app.get('#compare-prompt').element as HTMLTextAreaElement).value).toBe('How is the bell?')
  })

  test('Fit sends the form, follows progress, then offers the edit for comparison at 0 and its default', async () => {
    const fake = steeringBridge()
    const app = await openSteer(fake)
    await app.get('#fit-layers').setValue('9')
    expect(app.text()).toContain('Layer 9 does not exist; the model has 0…5.')
    expect(app.get('[data-testid=fit-button]').attributes('disabled')).toBeDefined()
    await app.get('#fit-layers').setValue('1')
    await app.get('[data-testid=fit-button]').trigger('click')
    await flushPromises()
    expect(fake.calls.at(-1)).toEqual({
      name: 'edit:fit',
      args: {
        dataset: '/data/sentiment.pairs.jsonl',
        method: 'mean-diff',
        options: { selector: 'completionMean', layers: [1] },
      },
    })
    fake.emit('job:progress', { id: 'fit-job', kind: 'fit', fraction: 0.5, message: 'Captured 1 of 2 pairs' })
    await flushPromises()
    const bar = app.get('[data-testid=fit-progress] [role=progressbar]')
    expect(bar.attributes('aria-valuenow')).toBe('50')
    expect(app.get('[data-testid=fit-progress]').text()).toContain('Captured 1 of 2 pairs')

    fake.answers['edits:list'] = () => ({ ok: true, result: [fitted] })
    fake.emit('job:done', {
      id: 'fit-job',
      kind: 'fit',
      outcome: 'succeeded',
      result: {
        editId: 'edit-1',
        summary: {
          method: 'mean-diff',
          site: 'resid_post',
          selector: 'completionMean',
          layers: [1],
          interventions: 1,
          pairs: 2,
          dataset: { source: '/data/sentiment.pairs.jsonl', hash: 'abc', size: 3 },
          notes: ['layer 1: ‖v‖ = 1.234'],
        },
      },
    })
    await flushPromises()
    expect(app.get('[data-testid=fit-summary]').text()).toContain('layer 1: ‖v‖ = 1.234')
    expect((app.get('#edit-select').element as HTMLSelectElement).value).toBe('edit-1')
    expect(app.findAll('[data-testid=strength-chip]').map((chip) => chip.get('span').text())).toEqual([
      '0 · base',
      'α 1',
    ])
    expect((app.get('#save-path').element as HTMLInputElement).value).toBe(fitted.suggestedPath)
    expect((app.get('#export-path').element as HTMLInputElement).value).toBe(
      '/home/user/Tiller/edits/mean-diff-sentiment.pairs-edit-1.gguf',
    )
  })

  test('Compare streams each row into its own column, the strength-0 column labelled base', async () => {
    const fake = steeringBridge()
    fake.answers['edits:list'] = () => ({ ok: true, result: [fitted] })
    const app = await openSteer(fake)
    await app.get('#compare-prompt').setValue('Tell me about the statue.')
    await app.get('#strength-input').setValue('4')
    await app.get('.strengths form').trigger('submit')
    await app
      .findAll('.strengths button')
      .find((button) => button.text() === 'Add negative')
      ?.trigger('click')
    await app.get('[data-testid=compare-button]').trigger('click')
    await flushPromises()
    expect(fake.calls.at(-1)).toEqual({
      name: 'chat:compare',
      args: {
        prompt: 'Tell me about the statue.',
        chat: true,
        editId: 'edit-1',
        strengths: [0, 1, 4, -1],
        options: { maxTokens: 48, temperature: 0 },
      },
    })
    fake.emit('compare:token', { job: 'compare-job', row: 0, token: 5, text: 'It is ' })
    fake.emit('compare:token', { job: 'compare-job', row: 1, token: 6, text: 'I love ' })
    fake.emit('compare:token', { job: 'other-job', row: 1, token: 6, text: 'ignored' })
    fake.emit('compare:token', { job: 'compare-job', row: 0, token: 7, text: 'a statue.' })
    await flushPromises()
    const columns = app.findAll('[data-testid=compare-column]')
    expect(columns.map((column) => column.attributes('data-strength'))).toEqual(['0', '1', '4', '-1'])
    expect(columns.map((column) => column.get('[data-testid=column-label]').text())).toEqual([
      'base',
      'steered · α 1',
      'steered · α 4',
      'steered · α -1',
    ])
    expect(columns.map((column) => column.get('[data-testid=column-text]').text())).toEqual([
      'It is a statue.',
      'I love',
      '',
      '',
    ])
    fake.emit('job:done', {
      id: 'compare-job',
      kind: 'compare',
      outcome: 'succeeded',
      result: {
        editId: 'edit-1',
        promptTokens: 7,
        tokensPerSecond: 12,
        rows: [0, 1, 4, -1].map((strength) => ({
          strength,
          text: `text at ${strength}`,
          finishReason: 'length' as const,
          generatedTokens: 3,
        })),
      },
    })
    await flushPromises()
    const finished = app.findAll('[data-testid=compare-column]')
    expect(finished[2]?.get('[data-testid=column-text]').text()).toBe('text at 4')
    expect(finished[2]?.text()).toContain('3 tokens · token limit')
  })

  test('an export refusal shows the engine’s reason; a save reports the file', async () => {
    const fake = steeringBridge()
    fake.answers['edits:list'] = () => ({ ok: true, result: [fitted] })
    fake.answers['edit:export-gguf'] = () => ({
      ok: false,
      error: {
        code: 'unrepresentable-edit',
        message:
          'Intervention 0 (layer 1, resid_post, add) cannot be written as a llama.cpp control vector: llama.cpp ' +
          'adds at every position, this edit applies "fromAssistantStart".',
        subject: 'interventions[0]',
      },
    })
    fake.answers['edit:save'] = (args) => ({
      ok: true,
      result: { path: (args as { path: string }).path, bytes: 1234 },
    })
    const app = await openSteer(fake)
    await app.findAll('.files form')[1]?.trigger('submit')
    await flushPromises()
    expect(app.get('[data-testid=file-note]').text()).toContain('this edit applies "fromAssistantStart"')
    await app.get('#save-path').setValue('/tmp/my-edit.safetensors')
    await app.findAll('.files form')[0]?.trigger('submit')
    await flushPromises()
    expect(fake.calls).toContainEqual({
      name: 'edit:save',
      args: { id: 'edit-1', path: '/tmp/my-edit.safetensors' },
    })
    expect(app.get('[data-testid=file-note]').text()).toBe('Saved /tmp/my-edit.safetensors (1,234 bytes).')
  })
})
