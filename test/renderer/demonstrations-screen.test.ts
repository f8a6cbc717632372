// @vitest-environment happy-dom
import { flushPromises, mount, type VueWrapper } from '@vue/test-utils'
import { createPinia, setActivePinia } from 'pinia'
import { afterEach, describe, expect, test } from 'vitest'
import { setClient } from '../../src/renderer/src/api.ts'
import DemonstrationsScreen from '../../src/renderer/src/screens/DemonstrationsScreen.vue'
import { useDemonstrationsStore } from '../../src/renderer/src/stores/demonstrations.ts'
import { createClient } from '../../src/shared/contract-client.ts'
import type { DemonstrationDocument, DemonstrationRow } from '../../src/shared/demonstrations.ts'
import type { DatasetIssue } from '../../src/shared/steering.ts'
import { createFakeBridge, type FakeBridge } from './fake-bridge.ts'

/**
 * The Demonstrations screen against a fake engine that validates like the real one does for blank fields: rows
 * flagged on their line as they are typed, created, saved and listed, a row rendered with its spans.
 */

let wrapper: VueWrapper | null = null

afterEach(() => {
  wrapper?.unmount()
  wrapper = null
})

/** Blank positive or negative is an `empty-field` issue on that row's line, as `validateForFit` says. */
function issuesOf(rows: DemonstrationRow[]): DatasetIssue[] {
  return rows.flatMap((row, index) =>
    (['positive', 'negative'] as const)
      .filter((field) => row[field].trim() === '')
      .map((field) => ({
        line: index + 1,
        code: 'empty-field',
        field,
        message: `"${field}" is empty; write the text or remove the row`,
      })),
  )
}

function documentOf(name: string, rows: DemonstrationRow[], version: number): DemonstrationDocument {
  return {
    entry: {
      name,
      behaviour: name,
      path: `/workspace/datasets/${name}.jsonl`,
      kind: 'pairs',
      rows: rows.length,
      trainPairs: rows.length,
      issues: issuesOf(rows).length,
      bundled: false,
    },
    rows,
    editable: true,
    preview: [],
    issues: issuesOf(rows),
    version,
  }
}

const starterEntry = {
  name: 'truthfulness.pairs',
  behaviour: 'truthfulness',
  path: '/bundled/truthfulness.pairs.jsonl',
  kind: 'pairs' as const,
  rows: 2,
  trainPairs: 2,
  issues: 0,
  bundled: true,
}

function starterRows(): DemonstrationRow[] {
  return [1, 2].map((number) => ({
    id: `truthfulness-${number}`,
    prompt: `Question ${number}?`,
    positive: 'True.',
    negative: 'False.',
    split: 'train',
    tags: [],
  }))
}

function bridge(): FakeBridge {
  const fake = createFakeBridge()
  const saved = new Map<string, { rows: DemonstrationRow[]; version: number }>()
  fake.answers['demonstrations:list'] = () => ({
    ok: true,
    result: {
      datasets: [...saved].map(([name, set]) => documentOf(name, set.rows, set.version).entry),
      bundledDirectory: null,
    },
  })
  // The engine lists the bundled sets with the workspace's; only bundled pairs and labelled sets are starters.
  fake.answers['datasets:list'] = () => ({
    ok: true,
    result: {
      datasets: [
        { ...starterEntry },
        { ...starterEntry, name: 'truthfulness.mc', path: '/bundled/truthfulness.mc.jsonl', kind: 'choices' },
        ...[...saved].map(([name, set]) => documentOf(name, set.rows, set.version).entry),
      ],
      bundledDirectory: '/bundled',
    },
  })
  fake.answers['demonstrations:import'] = (args) => {
    const { name } = args as { name: string }
    const rows = starterRows()
    saved.set(name, { rows, version: 0 })
    return { ok: true, result: documentOf(name, rows, 0) }
  }
  fake.answers['demonstrations:validate'] = (args) => ({
    ok: true,
    result: issuesOf((args as { rows: DemonstrationRow[] }).rows),
  })
  fake.answers['demonstrations:save'] = (args) => {
    const { name, rows } = args as { name: string; rows: DemonstrationRow[] }
    const version = saved.has(name) ? (saved.get(name)?.version ?? 0) + 1 : 0
    saved.set(name, { rows, version })
    return { ok: true, result: documentOf(name, rows, version) }
  }
  fake.answers['demonstrations:open'] = (args) => {
    const { name } = args as { name: string }
    const set = saved.get(name)
    return set === undefined
      ? { ok: false, error: { code: 'file-not-found', message: `no ${name}` } }
      : { ok: true, result: documentOf(name, set.rows, set.version) }
  }
  fake.answers['demonstrations:render'] = () => ({
    ok: true,
    result: {
      format: 'chat-template',
      positive: {
        text: '<user>Hi</user>Yes',
        tokens: [
          { id: 1, text: '<user>Hi</user>', part: 'prompt' },
          { id: 2, text: 'Yes', part: 'completion' },
        ],
      },
      negative: { text: '<user>Hi</user>No', tokens: [{ id: 3, text: 'No', part: 'completion' }] },
    },
  })
  return fake
}

async function open(fake: FakeBridge): Promise<VueWrapper> {
  setClient(createClient(fake.bridge))
  const pinia = createPinia()
  setActivePinia(pinia)
  wrapper = mount(DemonstrationsScreen, { global: { plugins: [pinia] }, attachTo: document.body })
  await flushPromises()
  return wrapper
}

async function type(app: VueWrapper, row: number, cell: string, text: string): Promise<void> {
  const input = app.findAll(`[data-testid=cell-${cell}]`)[row]?.find('textarea, input')
  if (input === undefined) throw new Error(`no ${cell} cell in row ${row}`)
  await input.setValue(text)
  await flushPromises()
}

describe('Demonstrations screen', () => {
  test('create a set, see the blank row flagged with its reason, fill it, add a bad row, save, reopen', async () => {
    const fake = bridge()
    const app = await open(fake)
    expect(app.text()).toContain('No sets yet')
    await app.get('[data-testid=dataset-create-name] input').setValue('moods')
    await app.get('[data-testid=dataset-create]').trigger('click')
    await flushPromises()
    expect(app.get('[data-testid=open-set]').text()).toBe('moods')
    expect(app.findAll('[data-testid=demonstration-row]')).toHaveLength(1)
    expect(app.get('[data-testid=row-issue]').text()).toContain('"positive" is empty')

    await type(app, 0, 'prompt', 'How was the day?')
    await type(app, 0, 'positive', 'Lovely.')
    await type(app, 0, 'negative', 'Dreadful.')
    expect(app.findAll('[data-testid=row-issue]')).toHaveLength(0)
    expect(app.text()).toContain('ready to fit')

    await app.get('[data-testid=row-add]').trigger('click')
    await flushPromises()
    await type(app, 1, 'positive', 'Great.')
    const rows = app.findAll('[data-testid=demonstration-row]')
    expect(rows.map((row) => row.attributes('data-invalid'))).toEqual(['false', 'true'])
    expect(app.get('[data-testid=row-issue]').text()).toContain('"negative" is empty')
    expect(app.get('[data-testid=issue-count]').text()).toContain('1 issue')

    await app.get('[data-testid=dataset-save]').trigger('click')
    await flushPromises()
    const save = fake.calls.filter((call) => call.name === 'demonstrations:save').at(-1)?.args as {
      rows: DemonstrationRow[]
    }
    expect(save.rows.map((row) => [row.prompt, row.positive, row.negative])).toEqual([
      ['How was the day?', 'Lovely.', 'Dreadful.'],
      ['', 'Great.', ''],
    ])
    expect(app.get('[data-testid=note]').text()).toContain('1 issue(s) to fix before fitting')
    expect(app.get('[data-testid=dataset-entry]').text()).toContain('1 issue')

    const store = useDemonstrationsStore()
    store.document = null
    await app.get('[data-testid=dataset-entry]').trigger('click')
    await flushPromises()
    expect(app.findAll('[data-testid=demonstration-row]')).toHaveLength(2)
    expect(app.findAll('[data-testid=row-issue]')).toHaveLength(1)
  })

  test('deleting the bad row clears its issue; a row renders with prompt and completion tokens marked', async () => {
    const fake = bridge()
    const app = await open(fake)
    const store = useDemonstrationsStore()
    await store.create('s')
    await flushPromises()
    await type(app, 0, 'positive', 'Yes')
    await type(app, 0, 'negative', 'No')
    store.addRow()
    await flushPromises()
    expect(app.findAll('[data-testid=row-issue]')).toHaveLength(1)
    await app.findAll('[data-testid=row-delete]')[1]?.trigger('click')
    await flushPromises()
    expect(app.findAll('[data-testid=row-issue]')).toHaveLength(0)

    await store.render(0)
    await flushPromises()
    const rendered = app.get('[data-testid=rendered-row]')
    expect(rendered.text()).toContain('Row 1 as the model reads it')
    expect(rendered.findAll('.token.prompt').map((token) => token.text())).toContain('<user>Hi</user>')
    expect(rendered.findAll('.token.completion').map((token) => token.text())).toEqual([
      'completion',
      'Yes',
      'No',
    ])
  })

  test('a starter set is listed read-only, copied into the workspace once, then opened as the user left it', async () => {
    const fake = bridge()
    const app = await open(fake)
    const starters = app.findAll('[data-testid=starter-set]')
    expect(starters.map((entry) => entry.attributes('data-name'))).toEqual(['truthfulness.pairs'])
    expect(starters[0]?.text()).toContain('2 rows')
    expect(app.get('[data-testid=starter-open]').text()).toBe('Copy to my sets')

    await app.get('[data-testid=starter-open]').trigger('click')
    await flushPromises()
    expect(
      fake.calls.filter((call) => call.name === 'demonstrations:import').map((call) => call.args),
    ).toEqual([{ format: 'jsonl', paths: ['/bundled/truthfulness.pairs.jsonl'], name: 'truthfulness.pairs' }])
    expect(app.get('[data-testid=open-set]').text()).toBe('truthfulness.pairs')
    expect(app.findAll('[data-testid=demonstration-row]')).toHaveLength(2)
    expect(app.get('[data-testid=note]').text()).toContain('Copied the starter set truthfulness.pairs')
    expect(app.findAll('[data-testid=dataset-entry]').map((entry) => entry.attributes('data-name'))).toEqual([
      'truthfulness.pairs',
    ])

    // An edit saved to the copy is what the starter opens next time; nothing is imported again.
    await type(app, 0, 'positive', 'Truly so.')
    await app.get('[data-testid=dataset-save]').trigger('click')
    await flushPromises()
    useDemonstrationsStore().document = null
    expect(app.get('[data-testid=starter-open]').text()).toBe('Open my copy')
    await app.get('[data-testid=starter-open]').trigger('click')
    await flushPromises()
    expect(fake.calls.filter((call) => call.name === 'demonstrations:import')).toHaveLength(1)
    expect(fake.calls.at(-1)).toEqual({ name: 'demonstrations:open', args: { name: 'truthfulness.pairs' } })
    const positive = app.findAll('[data-testid=cell-positive]')[0]?.find('textarea, input')
    expect((positive?.element as HTMLInputElement | undefined)?.value).toBe('Truly so.')
    expect(app.get('[data-testid=note]').text()).toContain(
      'Opened your copy of the starter set truthfulness.pairs',
    )
  })
})
