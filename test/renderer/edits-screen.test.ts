// @vitest-environment happy-dom
import { flushPromises, mount, type VueWrapper } from '@vue/test-utils'
import { createPinia, setActivePinia } from 'pinia'
import { afterEach, describe, expect, test } from 'vitest'
import { setClient } from '../../src/renderer/src/api.ts'
import EditsScreen from '../../src/renderer/src/screens/EditsScreen.vue'
import { useEditLibraryStore } from '../../src/renderer/src/stores/edit-library.ts'
import { createClient } from '../../src/shared/contract-client.ts'
import type { LibraryEdit } from '../../src/shared/edit-library.ts'
import { createFakeBridge, sampleModel, sampleStatus, type FakeBridge } from './fake-bridge.ts'

/** The Edits screen against a fake engine: manifest, rename, the control-vector button's reason, compose, export job. */

let wrapper: VueWrapper | null = null

afterEach(() => {
  wrapper?.unmount()
  wrapper = null
})

function libraryEdit(id: string, changes: Partial<LibraryEdit> = {}): LibraryEdit {
  return {
    id,
    method: 'mean-diff',
    label: `mean-diff · sentiment.pairs · layer 2`,
    origin: 'fitted',
    path: null,
    created: '2026-01-01T00:00:00.000Z',
    layers: [2],
    sites: ['resid_post'],
    interventions: 1,
    notes: '',
    dataset: { hash: 'abcdef0123456789', size: 16 },
    strength: { description: 'h + α·v', default: 4, testedRange: [-8, 8] },
    matchesModel: true,
    suggestedPath: `/workspace/edits/${id}.safetensors`,
    name: `edit ${id}`,
    datasetName: 'sentiment.pairs',
    controlVectorProblem: null,
    evaluated: false,
    options: {},
    ...changes,
  }
}

function bridge(edits: LibraryEdit[]): FakeBridge {
  const fake = createFakeBridge({ ...sampleStatus(), model: sampleModel(), modelProblem: null })
  fake.answers['library:list'] = () => ({ ok: true, result: edits })
  fake.answers['library:update'] = (args) => {
    const { id, name } = args as { id: string; name?: string }
    const edit = edits.find((entry) => entry.id === id) as LibraryEdit
    return { ok: true, result: { ...edit, name: name ?? edit.name } }
  }
  fake.answers['library:compose'] = (args) => {
    const { name } = args as { name: string }
    return { ok: true, result: libraryEdit('composed', { name, interventions: 2 }) }
  }
  fake.answers['library:export-onnx'] = () => ({ ok: true, result: { id: 'job-1', kind: 'export-onnx' } })
  return fake
}

async function open(fake: FakeBridge): Promise<VueWrapper> {
  setClient(createClient(fake.bridge))
  const pinia = createPinia()
  setActivePinia(pinia)
  wrapper = mount(EditsScreen, { global: { plugins: [pinia] }, attachTo: document.body })
  await flushPromises()
  return wrapper
}

describe('Edits screen', () => {
  test('shows the manifest, renames, and exports a steered folder as a job', async () => {
    const fake = bridge([libraryEdit('a')])
    const app = await open(fake)
    const details = app.get('[data-testid=edit-details]')
    expect(details.text()).toContain('mean-diff')
    expect(details.text().replace(/\s+/g, ' ')).toContain('sentiment.pairs (16 rows, abcdef0123)')
    expect(app.get('[data-testid=export-gguf]').attributes('disabled')).toBeUndefined()

    await app.get('[data-testid=edit-name] input').setValue('Cheerful')
    await app.get('[data-testid=edit-rename]').trigger('click')
    await flushPromises()
    expect(fake.calls.find((call) => call.name === 'library:update')?.args).toEqual({
      id: 'a',
      name: 'Cheerful',
    })
    expect(app.get('[data-testid=library-edit]').text()).toContain('Cheerful')

    const library = useEditLibraryStore()
    await library.exportOnnx('/out/steered', 4, false)
    expect(library.exportJob).toBe('job-1')
    fake.emit('job:done', {
      id: 'job-1',
      kind: 'export-onnx',
      outcome: 'succeeded',
      result: { path: '/out/steered', strength: 4 },
    })
    await flushPromises()
    expect(library.exportJob).toBeNull()
    expect(app.get('[data-testid=library-note]').text()).toContain('/out/steered (strength 4)')
  })

  test('the control-vector export is disabled with the reason; composing needs two edits', async () => {
    const reason =
      'Intervention 0 (layer 2, attn_out, add) cannot be written as a llama.cpp control vector: …'
    const fake = bridge([libraryEdit('a', { controlVectorProblem: reason }), libraryEdit('b')])
    const app = await open(fake)
    expect(app.get('[data-testid=export-gguf]').attributes('disabled')).toBeDefined()
    expect(app.get('[data-testid=gguf-reason]').text()).toBe(reason)

    const library = useEditLibraryStore()
    expect(
      await library.compose('both', [
        { id: 'a', strength: 1 },
        { id: 'b', strength: -2 },
      ]),
    ).toBe(true)
    await flushPromises()
    expect(fake.calls.find((call) => call.name === 'library:compose')?.args).toEqual({
      name: 'both',
      parts: [
        { id: 'a', strength: 1 },
        { id: 'b', strength: -2 },
      ],
    })
    expect(app.findAll('[data-testid=library-edit]')[0]?.text()).toContain('both')
    expect(app.get('[data-testid=edit-details]').text()).toContain('both')
  })
})
