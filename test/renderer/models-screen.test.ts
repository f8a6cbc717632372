// @vitest-environment happy-dom
import type { VueWrapper } from '@vue/test-utils'
import { NSelect } from 'naive-ui'
import { afterEach, describe, expect, test } from 'vitest'
import type { FolderListing } from '../../src/shared/studio.ts'
import {
  createFakeBridge,
  sampleDiscovery,
  sampleModel,
  sampleStatus,
  type FakeBridge,
} from './fake-bridge.ts'
import { mountStudio, settle } from './mount-studio.ts'

let wrapper: VueWrapper | null = null
afterEach(() => {
  wrapper?.unmount()
  wrapper = null
  document.body.innerHTML = ''
})

function bridge(): FakeBridge {
  const fake = createFakeBridge({ ...sampleStatus(), model: sampleModel(), modelProblem: null })
  fake.answers['model:load'] = () => ({ ok: true, result: { id: 'load-1', kind: 'model:load' } })
  return fake
}

function listing(path: string): FolderListing {
  return {
    path,
    parent: path === '/' ? null : '/',
    entries: [
      { name: 'models', path: '/home/models', kind: 'folder', isModel: false, sizeBytes: null },
      { name: 'tiny', path: '/home/tiny', kind: 'folder', isModel: true, sizeBytes: null },
      { name: 'notes.txt', path: '/home/notes.txt', kind: 'file', isModel: false, sizeBytes: 12 },
    ],
    unreadable: [{ name: 'secret', reason: 'permission denied' }],
    places: [{ label: 'Home', path: '/home' }],
  }
}

function variant(name: 'fp32' | 'q4', sizeBytes: number, lossless: boolean) {
  const graphFile = name === 'fp32' ? 'onnx/model.onnx' : `onnx/model_${name}.onnx`
  return { name, graphFile, dataFiles: [], sizeBytes, lossless, description: name }
}

describe('Models screen', () => {
  test('a model with several variants offers them with sizes; Load asks for the chosen one', async () => {
    const fake = bridge()
    fake.answers['models:discover'] = () => ({
      ok: true,
      result: {
        ...sampleDiscovery(),
        huggingFace: {
          cacheFolder: '/hub',
          exists: true,
          models: [
            {
              path: '/hub/models--org--tiny/snapshots/abc',
              name: 'org/tiny',
              source: 'hugging-face' as const,
              architecture: 'Qwen2ForCausalLM',
              layers: 24,
              hiddenSize: 896,
              sizeBytes: 2_600_000_000,
              onnxFiles: ['onnx/model.onnx', 'onnx/model_q4.onnx'],
              variants: [variant('fp32', 2_000_000_000, true), variant('q4', 600_000_000, false)],
              defaultVariant: { name: 'fp32' as const, reason: 'the float32 graph is the reference' },
            },
          ],
        },
      },
    })
    const app = await mountStudio(fake)
    wrapper = app
    const select = app.findComponent<typeof NSelect>('[data-testid=model-variant]')
    expect(select.exists()).toBe(true)
    expect(select.text()).toContain('fp32 · 2.0 GB (default)')
    expect(select.attributes('title')).toBe('Default fp32: the float32 graph is the reference')
    const options = select.props('options') as { value: string; label: string }[]
    expect(options.map((option) => option.label)).toEqual(['fp32 · 2.0 GB (default)', 'q4 · 600 MB'])
    const load = app.get('[data-testid=hugging-face-list] button')
    await load.trigger('click')
    await settle()
    // The default goes unnamed, so the engine applies and reports its own rule.
    expect(fake.calls.at(-1)).toEqual({
      name: 'model:load',
      args: { path: '/hub/models--org--tiny/snapshots/abc' },
    })
    select.vm.$emit('update:value', 'q4')
    await settle()
    await load.trigger('click')
    await settle()
    expect(fake.calls.at(-1)).toEqual({
      name: 'model:load',
      args: { path: '/hub/models--org--tiny/snapshots/abc', variant: 'q4' },
    })
  })

  test('the loaded model with its footprint and provider; the library lists what was found', async () => {
    const fake = bridge()
    fake.answers['models:discover'] = () => ({
      ok: true,
      result: {
        ...sampleDiscovery(),
        recent: [
          { path: '/work/other', name: 'other', architecture: 'LlamaForCausalLM', loadedAt: Date.now() },
          { path: '/models/organism', name: 'organism', architecture: 'LlamaForCausalLM', loadedAt: 0 },
        ],
        folders: [{ folder: '/gone', models: [], problem: '/gone is missing; it was moved or deleted.' }],
        huggingFace: {
          cacheFolder: '/hub',
          exists: true,
          models: [
            {
              path: '/hub/models--org--tiny/snapshots/abcdef123456',
              name: 'org/tiny',
              source: 'hugging-face' as const,
              architecture: 'Qwen2ForCausalLM',
              layers: 24,
              hiddenSize: 896,
              sizeBytes: 2_000_000_000,
              onnxFiles: ['onnx/model.onnx'],
              repository: 'org/tiny',
              revision: 'abcdef123456',
            },
          ],
        },
      },
    })
    const app = await mountStudio(fake)
    wrapper = app
    const loaded = app.get('[data-testid=model-loaded]').text()
    for (const text of [
      'Execution provider',
      'CPU',
      'Size on disk',
      '17.8 MB',
      'Expected memory',
      'about 20.3 MB',
    ]) {
      expect(loaded).toContain(text)
    }
    // Providers' reasons in the studio's words: the CUDA probe's npm script is left out.
    const cuda = app.get('[data-provider=cuda]').text()
    expect(cuda).toContain('CUDA libraries are not installed.')
    expect(cuda).not.toContain('npm run')
    expect(app.get('[data-testid=organism-list]').text()).toContain('loaded')
    expect(app.get('[data-testid=recent-list]').text()).toContain('other')
    // The organism has its own row above, not a second one among the recent models.
    expect(app.get('[data-testid=recent-list]').text()).not.toContain('/models/organism')
    expect(app.get('[data-testid=model-library]').text()).toContain('/gone is missing')
    const huggingFace = app.get('[data-testid=hugging-face-list]').text()
    expect(huggingFace).toContain('org/tiny')
    expect(huggingFace).toContain('24 layers · width 896 · 2.0 GB · revision abcdef12')

    const recentLoad = app.get('[data-testid=recent-list] button')
    await recentLoad.trigger('click')
    await settle()
    expect(fake.calls.at(-1)).toEqual({ name: 'model:load', args: { path: '/work/other' } })
  })

  test('browser mode: Choose… opens the engine-side picker; a model folder chosen fills the folder field', async () => {
    const fake = bridge()
    fake.answers['files:list'] = (args) => ({
      ok: true,
      result: listing((args as { path?: string }).path ?? '/home'),
    })
    const app = await mountStudio(fake)
    wrapper = app
    await app.get('[data-testid=choose-model-folder]').trigger('click')
    await settle()
    expect(fake.calls.some((call) => call.name === 'files:list')).toBe(true)
    const picker = document.body.querySelector('[data-testid=folder-picker]')
    expect(picker?.textContent).toContain('tiny')
    expect(picker?.textContent).toContain('secret: permission denied')
    // Folders only when choosing a folder: the text file is not offered.
    expect(picker?.textContent).not.toContain('notes.txt')
    const entry = document.body.querySelector<HTMLElement>('[data-testid=picker-entry-tiny]')
    entry?.click()
    await settle()
    document.body.querySelector<HTMLElement>('[data-testid=picker-choose]')?.click()
    await settle()
    expect((app.get('#model-folder').element as HTMLInputElement).value).toBe('/home/tiny')
  })

  test('GGUF import: progress while it runs, then the folder to load; a refusal in plain words', async () => {
    const fake = bridge()
    fake.answers['model:import-gguf'] = () => ({ ok: true, result: { id: 'import-1', kind: 'import-gguf' } })
    const app = await mountStudio(fake)
    wrapper = app
    await app.get('[data-testid=gguf-file] input').setValue('/downloads/stories.gguf')
    await app.get('[data-testid=gguf-import] form').trigger('submit')
    await settle()
    expect(fake.calls.at(-1)).toEqual({
      name: 'model:import-gguf',
      args: { file: '/downloads/stories.gguf' },
    })
    fake.emit('job:progress', {
      id: 'import-1',
      kind: 'import-gguf',
      fraction: 0.5,
      message: 'Writing the ONNX model folder…',
    })
    await settle()
    expect(app.get('[data-testid=gguf-progress]').text()).toContain('Writing the ONNX model folder…')
    const discoveriesBefore = fake.calls.filter((call) => call.name === 'models:discover').length
    fake.emit('job:done', {
      id: 'import-1',
      kind: 'import-gguf',
      outcome: 'succeeded',
      result: {
        folder: '/ws/models/stories',
        name: 'stories',
        sourceFile: '/downloads/stories.gguf',
        layers: 5,
        hiddenSize: 64,
      },
    })
    await settle()
    expect(app.find('[data-testid=gguf-progress]').exists()).toBe(false)
    expect(app.get('[data-testid=gguf-done]').text()).toContain('/ws/models/stories')
    expect(fake.calls.filter((call) => call.name === 'models:discover').length).toBe(discoveriesBefore + 1)
    await app.get('[data-testid=gguf-done] button').trigger('click')
    await settle()
    expect(fake.calls.at(-1)).toEqual({ name: 'model:load', args: { path: '/ws/models/stories' } })

    fake.answers['model:import-gguf'] = () => ({
      ok: false,
      error: {
        code: 'invalid-argument',
        message:
          '/ws/models/stories already exists and is not empty; choose another folder or remove it first.',
      },
    })
    await app.get('[data-testid=gguf-import] form').trigger('submit')
    await settle()
    expect(app.get('[data-testid=gguf-error]').text()).toContain('already exists')
  })
})
