import { spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { _electron, type ElectronApplication, type Page } from 'playwright-core'
import { afterAll, describe, expect, it } from 'vitest'
import { findElectronDist } from '../../scripts/electron-binary.mjs'

/**
 * The guided first edit against the desktop window (Playwright's `_electron`): the organism loads, the starter set
 * opens, a mean difference is fitted at the recommended layer, and Chat shows base and steered replies that
 * differ. Runs where Electron's binary is installed; elsewhere it reports itself skipped, naming what is missing.
 */

const root = new URL('../../', import.meta.url).pathname
const require = createRequire(import.meta.url)
const electron = findElectronDist()
const missing =
  'Electron’s binary is not installed (no node_modules/electron/dist executable and no ' +
  'ELECTRON_OVERRIDE_DIST_PATH), so the desktop window cannot be opened; run `npx install-electron` to test it'

let application: ElectronApplication | null = null
afterAll(async () => {
  await application?.close()
})

/** The desktop app starts from the built main process; build it when it is not there yet. */
function ensureBuilt(): void {
  if (existsSync(join(root, 'out', 'main', 'index.js'))) return
  const cli = join(dirname(require.resolve('electron-vite/package.json')), 'bin', 'electron-vite.js')
  const result = spawnSync(process.execPath, [cli, 'build'], { cwd: root, stdio: 'inherit' })
  expect(result.status, 'electron-vite build failed').toBe(0)
}

async function replies(page: Page): Promise<{ column: string | null; text: string }[]> {
  return page.getByTestId('reply').evaluateAll((columns) =>
    columns.map((column) => ({
      column: column.getAttribute('data-column'),
      text: column.querySelector('[data-testid=reply-text]')?.textContent?.trim() ?? '',
    })),
  )
}

/** Click a guide step's button once it is the current one. */
async function runStep(page: Page, step: string): Promise<void> {
  const button = page.getByTestId(`first-run-${step}-button`)
  await expect.poll(() => button.isEnabled()).toBe(true)
  await button.click()
}

describe('the desktop window', () => {
  it.skipIf(electron === null)(
    `runs the guided first edit (skipped when ${electron === null ? missing : 'never'})`,
    async () => {
      ensureBuilt()
      const environment: Record<string, string> = {}
      for (const [name, value] of Object.entries(process.env))
        if (value !== undefined && name !== 'ELECTRON_RUN_AS_NODE') environment[name] = value
      // The test workspace (TILLER_WORKSPACE, set by the vitest config) is passed on: nothing lands in the user's.
      application = await _electron.launch({
        executablePath: electron?.executable,
        args: [root],
        cwd: root,
        env: environment,
      })
      const page = await application.firstWindow()
      page.setDefaultTimeout(0)
      const problems: string[] = []
      page.on('pageerror', (error) => problems.push(error.message))

      await page.getByTestId('welcome').waitFor()
      // The organism loads at start; otherwise the first step loads it.
      if (await page.getByTestId('first-run-load-button').isVisible()) await runStep(page, 'load')
      await expect.poll(() => page.getByTestId('header-model').textContent()).toBe('organism')

      await runStep(page, 'dataset')
      await page.getByTestId('starter-rows').waitFor()
      await runStep(page, 'fit')
      await expect
        .poll(() => page.getByTestId('first-run-fit').textContent())
        .toMatch(/Fitted a mean difference at layer \d+/)

      await runStep(page, 'chat')
      await page.getByTestId('chat-screen').waitFor()
      await expect.poll(() => page.getByTestId('reply-metrics').count()).toBe(2)
      const answered = await replies(page)
      expect(answered.map((reply) => reply.column)).toEqual(['base', 'steered'])
      expect(answered[1]?.text).not.toBe(answered[0]?.text)
      expect(problems).toEqual([])
    },
  )
})
