import { rmSync } from 'node:fs'
import { join } from 'node:path'
import type { Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { screenList } from '../../src/renderer/src/screens/screen-list.ts'
import { workspaceRoot } from '../../src/main/core/workspace/workspace-root.ts'
import { sharedFixture } from '../helpers/shared-fixtures.ts'
import {
  openStudioPage,
  screenshotBothThemes,
  screenshotFolder,
  startStudio,
  type Studio,
} from './studio-browser.ts'

/**
 * The studio end to end in browser mode with the real engine and the embedded organism: every screen opened
 * from the navigation and photographed in both themes (docs/screenshots/studio-*.png), a GGUF model
 * imported and loaded from the Models screen, then the engine thread killed: the banner says so, the engine comes
 * back with the same model, and the header is ready again.
 */

const gguf = sharedFixture('stories260K-gguf/stories260K.gguf')
let studio: Studio
let page: Page
let problems: string[]

beforeAll(async () => {
  studio = await startStudio()
  ;({ page, problems } = await openStudioPage(studio))
})

afterAll(async () => {
  await studio?.close()
  // The import wrote into the test workspace's models folder; a later run starts clean.
  rmSync(join(workspaceRoot(), 'models'), { recursive: true, force: true })
})

async function open(id: string, label: string): Promise<void> {
  await page.getByTestId(`nav-${id}`).click()
  await page.locator('h1', { hasText: label }).waitFor()
}

describe('the studio in browser mode', () => {
  test('first run: the organism loads and the welcome leads to chat and a first edit', async () => {
    await expect.poll(() => page.getByTestId('header-model').textContent()).toBe('organism')
    await page.getByTestId('model-loaded').waitFor()
    expect(await page.getByTestId('welcome').textContent()).toContain('organism is loaded')
    expect(await page.getByTestId('engine-state').textContent()).toContain('Engine ready')
  })

  test('every screen opens from the navigation; screenshots in light and dark', async () => {
    for (const screen of screenList) {
      await open(screen.id, screen.label)
      // Screens load lazily: wait for the screen's own content before the picture.
      if (screen.id === 'models')
        await page.getByTestId('model-library').getByText('organism').first().waitFor()
      else if (screen.id === 'compare') await page.getByTestId('steer-view').waitFor()
      else await page.getByTestId(`${screen.id}-screen`).waitFor()
      // The walk-through's own names: the screens' own end-to-end files photograph them with content.
      const written = await screenshotBothThemes(page, `studio-${screen.id}`)
      expect(written).toEqual([
        join(screenshotFolder, `studio-${screen.id}-light.png`),
        join(screenshotFolder, `studio-${screen.id}-dark.png`),
      ])
    }
    expect(problems).toEqual([])
  })

  test('a GGUF model is imported with progress and loaded from the Models screen', async () => {
    await open('models', 'Models')
    await page.getByTestId('gguf-file').locator('input').fill(gguf)
    await page.getByTestId('gguf-import').getByRole('button', { name: 'Import' }).click()
    await page.getByTestId('gguf-done').waitFor()
    expect(await page.getByTestId('gguf-done').textContent()).toContain(
      join(workspaceRoot(), 'models', 'stories260K'),
    )
    await page.getByTestId('gguf-done').getByRole('button', { name: 'Load it' }).click()
    await expect.poll(() => page.getByTestId('header-model').textContent()).toBe('stories260K')
    const loaded = (await page.getByTestId('model-loaded').textContent()) ?? ''
    expect(loaded).toContain('LlamaForCausalLM')
    expect(loaded).toMatch(/Size on disk\s*[\d.]+ MB/)
    // The load is remembered: it is the most recent model now.
    await expect.poll(() => page.getByTestId('recent-list').textContent()).toContain('stories260K')
    expect(problems).toEqual([])
  })

  test('killing the engine: the banner says so at once, the engine restarts with the same model', async () => {
    await studio.mode.engine.kill()
    await page.getByText('The engine stopped responding — restarting…').waitFor()
    await page.getByText('The engine was restarted.').waitFor()
    expect(await page.getByTestId('health-banner').textContent()).toContain(
      'was killed by the system (SIGKILL',
    )
    await expect.poll(() => page.getByTestId('engine-state').textContent()).toContain('Engine ready')
    await expect.poll(() => page.getByTestId('header-model').textContent()).toBe('stories260K')
    await page.getByTestId('header-model').scrollIntoViewIfNeeded()
    await page.screenshot({ path: join(screenshotFolder, 'engine-restarted-light.png') })
    expect(studio.mode.engine.restarts()).toBe(1)
    expect(problems).toEqual([])
  })
})
