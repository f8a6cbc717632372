// @vitest-environment happy-dom
import { flushPromises, type VueWrapper } from '@vue/test-utils'
import { afterEach, describe, expect, test } from 'vitest'
import type { ScreenId } from '../../src/renderer/src/screens/index.ts'
import { createFakeBridge, sampleModel, sampleStatus, type FakeBridge } from './fake-bridge.ts'
import { mountStudio, settle } from './mount-studio.ts'

let wrapper: VueWrapper | null = null

afterEach(() => {
  wrapper?.unmount()
  wrapper = null
})

async function mountApp(fake: FakeBridge, screen: ScreenId = 'models'): Promise<VueWrapper> {
  wrapper = await mountStudio(fake, screen)
  return wrapper
}

function loadedStatus() {
  return { ...sampleStatus(), model: sampleModel(), modelProblem: null }
}

describe('Models screen and plain generation', () => {
  test('shows versions, the active provider and why the others were skipped', async () => {
    const app = await mountApp(createFakeBridge())
    expect(app.get('[data-testid=execution-provider]').text()).toBe('CPU')
    expect(app.get('[data-testid=tiller-version]').text()).toBe('9.8.7')
    expect(app.get('[data-testid=onnx-runtime-version]').text()).toBe('1.30.0')
    expect(app.get('[data-testid=transformers-version]').text()).toBe('4.3.1')
    const cuda = app.get('[data-provider=cuda]')
    expect(cuda.text()).toContain('skipped')
    // Why, in the studio's words: the probe's npm script advice is for the command line.
    expect(cuda.text()).toContain('CUDA libraries are not installed.')
    expect(cuda.text()).not.toContain('npm run')
    expect(app.get('[data-provider=cpu]').text()).toContain('active')
  })

  test('without a model it says so and why, and the folder field starts a load', async () => {
    const fake = createFakeBridge()
    fake.answers['model:load'] = () => ({ ok: true, result: { id: 'job-1', kind: 'model:load' } })
    const app = await mountApp(fake)
    const empty = app.get('[data-testid=no-model]')
    expect(empty.text()).toContain('No model loaded')
    expect(empty.text()).toContain('resources/models/organism is missing')
    await app.get('#model-folder').setValue('/models/organism')
    await app.get('form.load').trigger('submit')
    await flushPromises()
    expect(fake.calls.at(-1)).toEqual({ name: 'model:load', args: { path: '/models/organism' } })
  })

  test('a refused load shows the engine message', async () => {
    const fake = createFakeBridge()
    fake.answers['model:load'] = () => ({
      ok: false,
      error: {
        code: 'invalid-argument',
        message: 'Invalid path: Give the path of a model folder..',
        subject: 'path',
      },
    })
    const app = await mountApp(fake)
    await app.get('#model-folder').setValue('x')
    await app.get('form.load').trigger('submit')
    await flushPromises()
    expect(app.get('form.load .error').text()).toContain('Give the path of a model folder')
  })

  test('model:changed events move the card from loading to the model details', async () => {
    const fake = createFakeBridge()
    const app = await mountApp(fake)
    fake.emit('model:changed', {
      model: null,
      loading: { jobId: 'job-2', path: '/models/organism' },
      problem: null,
    })
    fake.emit('job:progress', {
      id: 'job-2',
      kind: 'model:load',
      fraction: null,
      message: 'Loading /models/organism…',
    })
    await flushPromises()
    expect(app.get('[data-testid=model-loading]').text()).toBe('Loading /models/organism…')
    fake.emit('model:changed', { model: sampleModel(), loading: null, problem: null })
    await flushPromises()
    const loaded = app.get('[data-testid=model-loaded]')
    for (const text of ['organism', '/models/organism', 'LlamaForCausalLM', 'optimum', '288', 'float32']) {
      expect(loaded.text()).toContain(text)
    }
    expect(app.find('[data-testid=model-loading]').exists()).toBe(false)
  })

  test('a model:changed event that overtakes the status read it follows is not lost', async () => {
    const fake = createFakeBridge()
    const loading = {
      ...sampleStatus(),
      modelLoading: { jobId: 'job-4', path: '/models/organism' },
      modelProblem: null,
    }
    let reads = 0
    // The first read was answered while loading, but the "loaded" event reaches the page before that answer.
    fake.answers['engine:status'] = () => {
      reads += 1
      if (reads === 1) {
        fake.emit('model:changed', { model: sampleModel(), loading: null, problem: null })
        return { ok: true, result: loading }
      }
      return { ok: true, result: loadedStatus() }
    }
    const app = await mountApp(fake)
    await flushPromises()
    expect(reads).toBe(2)
    expect(app.get('[data-testid=model-loaded]').text()).toContain('LlamaForCausalLM')
    expect(app.find('[data-testid=model-loading]').exists()).toBe(false)
  })

  test('after a failed first status read, a model:changed event reads the status again', async () => {
    const fake = createFakeBridge()
    let reads = 0
    fake.answers['engine:status'] = () => {
      reads += 1
      return reads === 1
        ? { ok: false, error: { code: 'engine-not-responding', message: 'The engine is restarting.' } }
        : { ok: true, result: loadedStatus() }
    }
    const app = await mountApp(fake)
    await flushPromises()
    expect(app.find('[data-testid=model-loaded]').exists()).toBe(false)
    fake.emit('model:changed', { model: sampleModel(), loading: null, problem: null })
    await flushPromises()
    expect(reads).toBe(2)
    expect(app.get('[data-testid=model-loaded]').text()).toContain('LlamaForCausalLM')
  })

  test('a generation streams tokens, shows the summary, and cancel asks the engine to stop', async () => {
    const fake = createFakeBridge(loadedStatus())
    fake.answers['generate:start'] = () => ({ ok: true, result: { id: 'job-3', kind: 'generate' } })
    fake.answers['job:cancel'] = () => ({ ok: true, result: { cancelled: true } })
    const app = await mountApp(fake, 'models')
    await app.get('#prompt').setValue('Hello')
    await app.get('.generate form').trigger('submit')
    await flushPromises()
    expect(fake.calls.at(-1)).toEqual({
      name: 'generate:start',
      args: { prompt: 'Hello', chat: false, options: { maxTokens: 64, temperature: 0.7 } },
    })
    fake.emit('generate:token', { jobId: 'job-3', row: 0, token: 11, text: ' wor' })
    fake.emit('generate:token', { jobId: 'other-job', row: 0, token: 12, text: 'NOISE' })
    fake.emit('generate:token', { jobId: 'job-3', row: 0, token: 13, text: 'ld' })
    await flushPromises()
    expect(app.get('[data-testid=generation-output]').text()).toBe('Hello world')

    const cancel = app.findAll('button').find((button) => button.text() === 'Cancel')
    expect(cancel).toBeDefined()
    await cancel?.trigger('click')
    await flushPromises()
    expect(fake.calls.at(-1)).toEqual({ name: 'job:cancel', args: { id: 'job-3' } })

    const result = {
      text: ' world',
      finishReason: 'cancelled' as const,
      promptTokens: 2,
      generatedTokens: 2,
      tokensPerSecond: 40,
      prefillMilliseconds: 5,
      decodeMilliseconds: 50,
    }
    fake.emit('job:done', { id: 'job-3', kind: 'generate', outcome: 'succeeded', result })
    await flushPromises()
    expect(app.get('[data-testid=generation-summary]').text()).toMatch(
      /2 tokens · 40\.0 tokens\/s · stopped at\s+cancelled/,
    )
    expect(app.findAll('button').some((button) => button.text() === 'Cancel')).toBe(false)
  })

  test('with streaming off the text appears only when the job is done', async () => {
    const fake = createFakeBridge(loadedStatus())
    fake.answers['generate:start'] = () => ({ ok: true, result: { id: 'job-4', kind: 'generate' } })
    const app = await mountApp(fake, 'models')
    await app.findAll('input[type=checkbox]')[1]?.setValue(false)
    await app.get('#prompt').setValue('Hi')
    await app.get('.generate form').trigger('submit')
    await flushPromises()
    fake.emit('generate:token', { jobId: 'job-4', row: 0, token: 1, text: ' there' })
    await flushPromises()
    expect(app.get('[data-testid=generation-output]').text()).toBe('Hi')
    fake.emit('job:done', {
      id: 'job-4',
      kind: 'generate',
      outcome: 'failed',
      error: { code: 'prompt-too-long', message: 'The prompt plus 64 tokens exceeds the context of 32.' },
    })
    await flushPromises()
    expect(app.get('[data-testid=generation-error]').text()).toContain('exceeds the context')
  })

  test('an unreachable engine is shown with its reason', async () => {
    const fake = createFakeBridge()
    fake.answers['engine:status'] = () => ({
      ok: false,
      error: {
        code: 'unauthorized',
        message: 'This page needs the token in the address that `npm start` printed.',
      },
    })
    const app = await mountApp(fake)
    expect(app.get('[data-testid=engine-error]').text()).toContain('needs the token')
  })

  test('on the Models screen Ctrl+Enter generates and Esc stops, as in Chat', async () => {
    const fake = createFakeBridge(loadedStatus())
    fake.answers['generate:start'] = () => ({ ok: true, result: { id: 'job-4', kind: 'generate' } })
    fake.answers['job:cancel'] = () => ({ ok: true, result: { cancelled: true } })
    const app = await mountApp(fake, 'models')
    const press = async (key: string, ctrlKey = false) => {
      window.dispatchEvent(new KeyboardEvent('keydown', { key, ctrlKey, bubbles: true }))
      await flushPromises()
    }
    await press('Escape')
    expect(fake.calls.some((call) => call.name === 'job:cancel')).toBe(false)
    await app.get('#prompt').setValue('Hello')
    await press('Enter', true)
    expect(fake.calls.filter((call) => call.name === 'generate:start')).toHaveLength(1)
    // A second Ctrl+Enter while it runs starts nothing.
    await press('Enter', true)
    expect(fake.calls.filter((call) => call.name === 'generate:start')).toHaveLength(1)
    await press('Escape')
    expect(fake.calls.at(-1)).toEqual({ name: 'job:cancel', args: { id: 'job-4' } })
    fake.emit('job:done', { id: 'job-4', kind: 'generate', outcome: 'cancelled' })
    await flushPromises()

    // The Models screen stays alive behind Chat; there its keys are Chat's, not the Generate card's.
    await app.get('[data-testid=nav-chat]').trigger('click')
    await settle()
    await press('Enter', true)
    expect(fake.calls.filter((call) => call.name === 'generate:start')).toHaveLength(1)
    await app.get('[data-testid=nav-models]').trigger('click')
    await settle()
    await press('Enter', true)
    expect(fake.calls.filter((call) => call.name === 'generate:start')).toHaveLength(2)
  })

  test('Esc stops a chat reply only while Chat is shown', async () => {
    const fake = createFakeBridge(loadedStatus())
    fake.answers['chat:list'] = () => ({ ok: true, result: [] })
    fake.answers['edits:list'] = () => ({ ok: true, result: [] })
    fake.answers['datasets:list'] = () => ({ ok: true, result: { datasets: [], bundledDirectory: null } })
    fake.answers['chat:send'] = () => ({ ok: true, result: { id: 'chat-job-1', kind: 'chat' } })
    fake.answers['job:cancel'] = () => ({ ok: true, result: { cancelled: true } })
    const app = await mountApp(fake, 'chat')
    const cancels = () => fake.calls.filter((call) => call.name === 'job:cancel')
    const pressEscape = async () => {
      window.dispatchEvent(new KeyboardEvent('keydown', { key: 'Escape', bubbles: true }))
      await flushPromises()
    }
    await app.get('#chat-message').setValue('Where does the fox live?')
    await app.get('[data-testid=send-button]').trigger('click')
    await flushPromises()
    expect(fake.calls.filter((call) => call.name === 'chat:send')).toHaveLength(1)
    // Chat stays alive behind the Models screen, still streaming; Esc there is not Chat's.
    await app.get('[data-testid=nav-models]').trigger('click')
    await settle()
    await pressEscape()
    expect(cancels()).toEqual([])
    await app.get('[data-testid=nav-chat]').trigger('click')
    await settle()
    await pressEscape()
    expect(cancels()).toEqual([{ name: 'job:cancel', args: { id: 'chat-job-1' } }])
  })
})
