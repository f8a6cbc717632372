// @vitest-environment happy-dom
import { flushPromises, mount, type VueWrapper } from '@vue/test-utils'
import { createPinia, setActivePinia } from 'pinia'
import { afterEach, describe, expect, test } from 'vitest'
import { setClient } from '../../src/renderer/src/api.ts'
import DemonstrationsScreen from '../../src/renderer/src/screens/DemonstrationsScreen.vue'
import EditsScreen from '../../src/renderer/src/screens/EditsScreen.vue'
import { createClient } from '../../src/shared/contract-client.ts'
import type { TillerDesktop } from '../../src/shared/desktop.ts'
import type { FolderListing } from '../../src/shared/studio.ts'
import { createFakeBridge, type FakeBridge } from './fake-bridge.ts'

/**
 * Import fields on the Demonstrations and Edits screens take a typed path or a chosen one: in browser mode
 * Choose… walks the engine's disk and offers only the files the format reads; in the desktop app it asks the
 * system's dialog for the same endings.
 */

let wrapper: VueWrapper | null = null

afterEach(() => {
  wrapper?.unmount()
  wrapper = null
  delete window.tillerDesktop
  document.body.innerHTML = ''
})

function listing(path: string): FolderListing {
  const file = (name: string) => ({
    name,
    path: `/data/${name}`,
    kind: 'file' as const,
    isModel: false,
    sizeBytes: 10,
  })
  return {
    path,
    parent: '/',
    entries: [
      file('moods.jsonl'),
      file('moods.csv'),
      file('caa.json'),
      file('vector.gguf'),
      file('edit.safetensors'),
    ],
    unreadable: [],
    places: [{ label: 'Home', path: '/data' }],
  }
}

function bridge(): FakeBridge {
  const fake = createFakeBridge()
  fake.answers['files:list'] = (args) => ({
    ok: true,
    result: listing((args as { path?: string }).path ?? '/data'),
  })
  fake.answers['demonstrations:list'] = () => ({ ok: true, result: { datasets: [], bundledDirectory: null } })
  fake.answers['datasets:list'] = () => ({ ok: true, result: { datasets: [], bundledDirectory: null } })
  fake.answers['library:list'] = () => ({ ok: true, result: [] })
  return fake
}

async function mountScreen(fake: FakeBridge, screen: typeof DemonstrationsScreen): Promise<VueWrapper> {
  setClient(createClient(fake.bridge))
  const pinia = createPinia()
  setActivePinia(pinia)
  wrapper = mount(screen, { global: { plugins: [pinia] }, attachTo: document.body })
  await flushPromises()
  return wrapper
}

/** The names the open picker offers as choosable files. */
function offeredFiles(): string[] {
  return [...document.body.querySelectorAll<HTMLElement>('[data-testid=folder-picker] li')]
    .filter((entry) => !entry.classList.contains('disabled'))
    .map((entry) => entry.querySelector('.name')?.textContent ?? '')
}

async function pickInBrowser(name: string): Promise<void> {
  document.body.querySelector<HTMLElement>(`[data-testid=picker-entry-${name.replace('.', '\\.')}]`)?.click()
  await flushPromises()
  document.body.querySelector<HTMLElement>('[data-testid=picker-choose]')?.click()
  await flushPromises()
}

function inputValue(app: VueWrapper, testId: string): string {
  return (app.get(`[data-testid=${testId}] input`).element as HTMLInputElement).value
}

describe('file choosers beside import fields', () => {
  test('Demonstrations, browser mode: the picker offers the format’s files and fills the field', async () => {
    const fake = bridge()
    const app = await mountScreen(fake, DemonstrationsScreen)
    await app.get('[data-testid=import-choose]').trigger('click')
    await flushPromises()
    expect(fake.calls.some((call) => call.name === 'files:list')).toBe(true)
    expect(offeredFiles()).toEqual(['moods.jsonl'])
    await pickInBrowser('moods.jsonl')
    expect(inputValue(app, 'import-path')).toBe('/data/moods.jsonl')
    // The new set is named after the file, unless a name was typed.
    expect(inputValue(app, 'import-name')).toBe('moods')
    await app.get('[data-testid=import-name] input').setValue('my moods')
    await app.get('[data-testid=import-choose]').trigger('click')
    await flushPromises()
    await pickInBrowser('moods.jsonl')
    expect(inputValue(app, 'import-name')).toBe('my moods')
  })

  test('Edits, browser mode: edit files and control vectors are offered; the chosen one is imported', async () => {
    const fake = bridge()
    fake.answers['library:import'] = () => ({
      ok: false,
      error: { code: 'invalid-edit', message: 'not checked here' },
    })
    const app = await mountScreen(fake, EditsScreen)
    await app.get('[data-testid=edit-import-choose]').trigger('click')
    await flushPromises()
    expect(offeredFiles()).toEqual(['vector.gguf', 'edit.safetensors'])
    await pickInBrowser('edit.safetensors')
    expect(inputValue(app, 'edit-import-path')).toBe('/data/edit.safetensors')
    await app.get('[data-testid=edit-import]').trigger('click')
    await flushPromises()
    expect(fake.calls.find((call) => call.name === 'library:import')?.args).toEqual({
      path: '/data/edit.safetensors',
    })
  })

  test('desktop app: the system dialog is asked for the format’s endings; a cancelled dialog leaves the field', async () => {
    const asked: Array<{ title: string; extensions: string[] }> = []
    let answer: string | null = '/home/me/negatives.txt'
    const desktop: TillerDesktop = {
      chooseFolder: async () => null,
      chooseFile: async (title, extensions) => {
        asked.push({ title, extensions })
        return answer
      },
    }
    window.tillerDesktop = desktop
    const fake = bridge()
    const app = await mountScreen(fake, DemonstrationsScreen)
    const formats = app.findComponent({ name: 'Select' })
    formats.vm.$emit('update:value', 'plain-text')
    await flushPromises()
    await app.get('[data-testid=import-negative-choose]').trigger('click')
    await flushPromises()
    expect(asked).toEqual([{ title: 'Choose the file of negative examples', extensions: ['txt'] }])
    expect(inputValue(app, 'import-negative-path')).toBe('/home/me/negatives.txt')
    answer = null
    await app.get('[data-testid=import-choose]').trigger('click')
    await flushPromises()
    expect(asked).toHaveLength(2)
    expect(inputValue(app, 'import-path')).toBe('')
    expect(fake.calls.some((call) => call.name === 'files:list')).toBe(false)
  })

  test('Edits: Export into… moves the three export paths into the chosen folder, keeping their names', async () => {
    window.tillerDesktop = {
      chooseFolder: async (title) =>
        title === 'Choose the folder to export into' ? '/home/me/exports' : null,
      chooseFile: async () => null,
    }
    const fake = bridge()
    const edit = {
      id: 'e1',
      method: 'mean-diff' as const,
      label: 'mean-diff · sentiment.pairs · layer 2',
      origin: 'fitted' as const,
      path: null,
      created: '2026-01-01T00:00:00.000Z',
      layers: [2],
      sites: ['resid_post' as const],
      interventions: 1,
      notes: '',
      dataset: null,
      strength: { description: 'h + α·v', default: 1, testedRange: [-2, 2] as [number, number] },
      matchesModel: true,
      suggestedPath: '/home/me/Tiller/edits/moods-e1.safetensors',
      name: 'moods',
      datasetName: 'sentiment.pairs',
      controlVectorProblem: null,
      evaluated: false,
      options: {},
    }
    fake.answers['library:list'] = () => ({ ok: true, result: [edit] })
    fake.answers['edit:save'] = () => ({
      ok: true,
      result: { path: '/home/me/exports/moods-e1.safetensors', bytes: 10 },
    })
    const app = await mountScreen(fake, EditsScreen)
    await app.get('[data-testid=library-edit]').trigger('click')
    await flushPromises()
    await app.get('[data-testid=export-folder-choose]').trigger('click')
    await flushPromises()
    expect(inputValue(app, 'export-tiller-path')).toBe('/home/me/exports/moods-e1.safetensors')
    expect(inputValue(app, 'export-gguf-path')).toBe('/home/me/exports/moods-e1.gguf')
    expect(inputValue(app, 'export-onnx-path')).toBe('/home/me/exports/moods-e1-steered')
    await app.get('[data-testid=export-tiller]').trigger('click')
    await flushPromises()
    expect(fake.calls.find((call) => call.name === 'edit:save')?.args).toMatchObject({
      path: '/home/me/exports/moods-e1.safetensors',
    })
  })
})

test('a path typed into the picker before its first listing arrives stays; Go then lists it', async () => {
  const fake = bridge()
  const pending: Array<() => void> = []
  // The first listing (the picker opening on home) answers only when released, after the user has typed.
  fake.answers['files:list'] = (args) => {
    const path = (args as { path?: string }).path ?? '/data'
    if (pending.length > 0 || path !== '/data') return { ok: true, result: listing(path) }
    return new Promise((resolve) => {
      pending.push(() => resolve({ ok: true, result: listing(path) }))
    }) as never
  }
  const app = await mountScreen(fake, DemonstrationsScreen)
  await app.get('[data-testid=import-choose]').trigger('click')
  await flushPromises()
  expect(pending).toHaveLength(1)
  const field = document.body.querySelector<HTMLInputElement>('[data-testid=picker-path] input')
  if (field === null) throw new Error('the picker has no path field')
  field.value = '/data/sets'
  field.dispatchEvent(new Event('input'))
  await flushPromises()
  pending[0]?.()
  await flushPromises()
  expect(field.value).toBe('/data/sets')
  field.closest('form')?.dispatchEvent(new Event('submit'))
  await flushPromises()
  expect(fake.calls.filter((call) => call.name === 'files:list').map((call) => call.args)).toEqual([
    {},
    { path: '/data/sets' },
  ])
  expect(field.value).toBe('/data/sets')
})
