// @vitest-environment happy-dom
import { mount, type VueWrapper } from '@vue/test-utils'
import { NConfigProvider, NInput, NSelect } from 'naive-ui'
import { afterEach, describe, expect, test } from 'vitest'
import { defineComponent, h } from 'vue'
import { announceConnection } from '../../src/renderer/src/api.ts'
import { matchesShortcut, parseShortcut } from '../../src/renderer/src/composables/use-shortcuts.ts'
import { messageOf, studioWords } from '../../src/renderer/src/errors.ts'
import { screens } from '../../src/renderer/src/screens/index.ts'
import { studioLocale } from '../../src/renderer/src/studio-locale.ts'
import { ContractError } from '../../src/shared/contract-client.ts'
import {
  createFakeBridge,
  sampleModel,
  sampleSettings,
  sampleStatus,
  type FakeBridge,
} from './fake-bridge.ts'
import { mountStudio, settle } from './mount-studio.ts'

let wrapper: VueWrapper | null = null
afterEach(() => {
  wrapper?.unmount()
  wrapper = null
})

function loadedBridge(): FakeBridge {
  return createFakeBridge({ ...sampleStatus(), model: sampleModel(), modelProblem: null })
}

async function open(fake: FakeBridge, screen: Parameters<typeof mountStudio>[1] = 'models') {
  wrapper = await mountStudio(fake, screen)
  return wrapper
}

function statusRequests(fake: FakeBridge): number {
  return fake.calls.filter((call) => call.name === 'engine:status').length
}

describe('the studio shell', () => {
  test('the navigation lists every screen in order, and each opens with its title and address', async () => {
    const app = await open(loadedBridge())
    expect(screens.map((screen) => screen.label)).toEqual([
      'Models',
      'Demonstrations',
      'Fit',
      'Evaluate',
      'Chat',
      'Edits',
      'Compare',
    ])
    for (const screen of screens) {
      await app.get(`[data-testid=nav-${screen.id}]`).trigger('click')
      await settle()
      expect(app.get('h1').text()).toBe(screen.label)
      expect(window.location.hash).toBe(`#/${screen.id}`)
    }
    // What the first studio could do stays reachable: plain completion under Models, the workbench as Compare.
    await app.get('[data-testid=nav-models]').trigger('click')
    await settle()
    expect(app.find('#prompt').exists()).toBe(true)
    await app.get('[data-testid=nav-compare]').trigger('click')
    await settle()
    expect(app.find('[data-testid=steer-view]').exists()).toBe(true)
  })

  test('an empty field shows no stock “Please Input”: the studio’s locale is the one the whole app uses', async () => {
    const empty = (locale?: typeof studioLocale) =>
      mount(
        defineComponent({
          setup: () => () =>
            h(NConfigProvider, { locale: locale ?? null }, () => [
              h(NInput, { value: '' }),
              h(NSelect, { options: [] }),
            ]),
        }),
      )
    const stock = empty()
    expect(stock.text()).toContain('Please Input')
    expect(stock.text()).toContain('Please Select')
    stock.unmount()
    const studio = empty(studioLocale)
    expect(studio.text()).not.toContain('Please')
    expect(studio.text()).toContain('Choose…')
    studio.unmount()

    const app = await open(loadedBridge())
    expect(app.getComponent(NConfigProvider).props('locale')).toBe(studioLocale)
  })

  test('Alt+digit opens a screen; the header names the loaded model', async () => {
    const app = await open(loadedBridge())
    expect(app.get('[data-testid=header-model]').text()).toBe('organism')
    window.dispatchEvent(new KeyboardEvent('keydown', { key: '5', altKey: true }))
    await settle()
    expect(app.get('h1').text()).toBe('Chat')
    // Without Alt the digit is ordinary typing.
    window.dispatchEvent(new KeyboardEvent('keydown', { key: '1' }))
    await settle()
    expect(app.get('h1').text()).toBe('Chat')
  })

  test('the theme follows the saved choice, and a new choice applies at once and is saved', async () => {
    const fake = loadedBridge()
    fake.answers['settings:read'] = () => ({ ok: true, result: { ...sampleSettings(), theme: 'dark' } })
    fake.answers['settings:update'] = (args) => ({
      ok: true,
      result: { ...sampleSettings(), ...(args as object) },
    })
    const app = await open(fake)
    expect(document.documentElement.dataset['theme']).toBe('dark')
    expect(app.get('[data-testid=theme-dark]').attributes('aria-checked')).toBe('true')
    await app.get('[data-testid=theme-light]').trigger('click')
    await settle()
    expect(document.documentElement.dataset['theme']).toBe('light')
    expect(fake.calls.at(-1)).toEqual({ name: 'settings:update', args: { theme: 'light' } })
  })

  test('first run: the welcome shows the guided steps, and closing it is saved', async () => {
    const fake = loadedBridge()
    fake.answers['settings:update'] = (args) => ({
      ok: true,
      result: { ...sampleSettings(), ...(args as object) },
    })
    const app = await open(fake)
    expect(app.get('[data-testid=welcome]').text()).toContain('organism is loaded')
    expect(app.get('[data-testid=first-run-load]').text()).toContain('done')
    expect(app.get('[data-testid=first-run-dataset-button]').attributes('disabled')).toBeUndefined()
    await app.get('[data-testid=welcome] .n-base-close').trigger('click')
    await settle()
    expect(fake.calls.at(-1)).toEqual({ name: 'settings:update', args: { welcomeDismissed: true } })
    expect(app.find('[data-testid=welcome]').exists()).toBe(false)
  })

  test('engine health: restarting, then restarted naming the failed job, and the status is read again', async () => {
    const fake = loadedBridge()
    const app = await open(fake)
    expect(app.find('[data-testid=health-banner]').exists()).toBe(false)
    expect(app.get('[data-testid=engine-state]').text()).toBe('Engine ready · CPU')
    const reason = {
      code: 'engine-not-responding',
      message: 'The engine stopped responding for 15 s and was restarted; run it again.',
    }
    fake.emit('engine:health', {
      state: 'restarting',
      reason,
      restarts: 1,
      failedJobs: ['job-9'],
    })
    await settle()
    expect(app.get('[data-testid=health-banner]').text()).toContain(
      'The engine stopped responding — restarting…',
    )
    expect(app.get('[data-testid=engine-state]').text()).toBe('Engine restarting')
    const before = statusRequests(fake)
    // As the watchdog reports it: ready again, the failed jobs were told with `restarting`.
    fake.emit('engine:health', { state: 'ready', reason, restarts: 1, failedJobs: [] })
    await settle()
    const banner = app.get('[data-testid=health-banner]').text()
    expect(banner).toContain('The engine was restarted; the running job failed because it stopped.')
    expect(banner).toContain('stopped responding for 15 s')
    expect(statusRequests(fake)).toBe(before + 1)
    expect(app.get('[data-testid=engine-state]').text()).toBe('Engine ready · CPU')
  })

  test('a lost connection is said at once; when it is back the status is read again', async () => {
    const fake = loadedBridge()
    const app = await open(fake)
    announceConnection('closed')
    await settle()
    expect(app.get('[data-testid=health-banner]').text()).toContain('connection to the engine was lost')
    expect(app.get('[data-testid=engine-state]').text()).toBe('Engine disconnected')
    const before = statusRequests(fake)
    announceConnection('open')
    await settle()
    expect(app.find('[data-testid=health-banner]').exists()).toBe(false)
    expect(statusRequests(fake)).toBe(before + 1)
  })
})

describe('errors in the studio’s words', () => {
  test('command-line advice is dropped, the rest kept', () => {
    expect(
      studioWords(
        'The default model folder /app/organism is missing; pass --model DIR with a model folder, or restore it.',
      ),
    ).toBe('The default model folder /app/organism is missing.')
    expect(studioWords('Unknown format "x". Run `tiller import --help` for the options.')).toBe(
      'Unknown format "x".',
    )
    expect(studioWords('The file model.onnx is damaged. Export it again.')).toBe(
      'The file model.onnx is damaged. Export it again.',
    )
    // Nothing but advice: keep it rather than show nothing.
    expect(studioWords('Pass --force.')).toBe('Pass --force.')
  })

  test('transport codes get one plain sentence', () => {
    const lost = new ContractError({ code: 'disconnected', message: 'The connection to the engine closed.' })
    expect(messageOf(lost)).toContain('reconnecting')
    expect(messageOf(new Error('plain'))).toBe('plain')
  })
})

describe('keyboard shortcuts', () => {
  test('Mod means Ctrl or Meta; extra modifiers do not match', () => {
    const send = parseShortcut('Mod+Enter')
    expect(matchesShortcut(new KeyboardEvent('keydown', { key: 'Enter', ctrlKey: true }), send)).toBe(true)
    expect(matchesShortcut(new KeyboardEvent('keydown', { key: 'Enter', metaKey: true }), send)).toBe(true)
    expect(matchesShortcut(new KeyboardEvent('keydown', { key: 'Enter' }), send)).toBe(false)
    expect(
      matchesShortcut(new KeyboardEvent('keydown', { key: 'Enter', ctrlKey: true, shiftKey: true }), send),
    ).toBe(false)
    expect(matchesShortcut(new KeyboardEvent('keydown', { key: 'Escape' }), parseShortcut('Escape'))).toBe(
      true,
    )
    expect(() => parseShortcut('Hyper+K')).toThrow('Unknown modifier')
  })
})
