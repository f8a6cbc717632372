import { spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { chromium, type Browser, type Page } from 'playwright-core'
import { startBrowserMode, type BrowserMode } from '../../src/main/server/main.ts'

/**
 * What studio end-to-end tests share: browser mode started in this process (so a test can reach its supervised
 * engine, e.g. to kill it), Debian's Chromium through Playwright, a page that records script errors and content
 * security policy violations, and screenshots of a screen in the light and the dark theme.
 */

export const chromiumPath = '/usr/bin/chromium'
const root = new URL('../../', import.meta.url).pathname
const rendererDirectory = join(root, 'out', 'renderer')

/** Newest modification time of any file under `folder`. */
function newestChange(folder: string): number {
  let newest = 0
  for (const entry of readdirSync(folder, { withFileTypes: true })) {
    const path = join(folder, entry.name)
    newest = Math.max(newest, entry.isDirectory() ? newestChange(path) : statSync(path).mtimeMs)
  }
  return newest
}

/** Build the renderer when `out/renderer` is missing or older than its sources (as `npm start` does). */
export function ensureRendererBuilt(): void {
  const index = join(rendererDirectory, 'index.html')
  const sources = Math.max(
    newestChange(join(root, 'src', 'renderer')),
    newestChange(join(root, 'src', 'shared')),
  )
  if (existsSync(index) && statSync(index).mtimeMs >= sources) return
  const cli = join(root, 'node_modules', 'electron-vite', 'bin', 'electron-vite.js')
  const result = spawnSync(process.execPath, [cli, 'build'], {
    cwd: root,
    stdio: ['ignore', 'ignore', 'inherit'],
  })
  if (result.status !== 0) throw new Error('electron-vite build failed; run `npm run build` to see why.')
}

/** A running studio: browser mode, a browser, and how to stop both. */
export interface Studio {
  mode: BrowserMode
  browser: Browser
  url: string
  close(): Promise<void>
}

/** Start browser mode on `model` (default: the organism) and launch Chromium. */
export async function startStudio(options: { model?: string } = {}): Promise<Studio> {
  if (!existsSync(chromiumPath))
    throw new Error(`Chromium is missing at ${chromiumPath}; apt-get install chromium`)
  ensureRendererBuilt()
  const mode = await startBrowserMode({
    rendererDirectory,
    port: 0,
    ...(options.model === undefined ? {} : { model: options.model }),
  })
  // Running as root in a container needs Chromium's own sandbox off; the page is our local renderer.
  const browser = await chromium.launch({
    executablePath: chromiumPath,
    headless: true,
    args: ['--no-sandbox'],
    timeout: 0,
  })
  return {
    mode,
    browser,
    url: mode.url,
    async close() {
      await browser.close()
      await mode.close()
    },
  }
}

/** A page on the studio with its problems (script errors, CSP violations) collected in `problems`. */
export async function openStudioPage(
  studio: Studio,
  options: { colorScheme?: 'light' | 'dark'; hash?: string } = {},
): Promise<{ page: Page; problems: string[] }> {
  const page = await studio.browser.newPage({
    viewport: { width: 1360, height: 860 },
    colorScheme: options.colorScheme ?? 'light',
  })
  // No Playwright deadline (its default is 30 s): a busy machine is slow, and vitest's timeout catches hangs.
  page.setDefaultTimeout(0)
  const problems: string[] = []
  page.on('pageerror', (error) => problems.push(error.message))
  page.on('console', (message) => {
    if (message.text().includes('Content Security Policy')) problems.push(message.text())
  })
  await page.goto(`${studio.url}${options.hash ?? ''}`)
  return { page, problems }
}

/** Where studio screenshots are kept (committed, shown in the README). */
export const screenshotFolder = join(root, 'docs', 'screenshots')

/**
 * Screenshot the page as it is in the light and the dark theme (switched with the header's theme buttons, then
 * switched back to following the system): `<name>-light.png` and `<name>-dark.png`.
 */
export async function screenshotBothThemes(page: Page, name: string): Promise<string[]> {
  mkdirSync(screenshotFolder, { recursive: true })
  const written: string[] = []
  for (const theme of ['light', 'dark'] as const) {
    await page.getByTestId(`theme-${theme}`).click()
    await page.locator(`html[data-theme=${theme}]`).waitFor({ state: 'attached' })
    // Let transitions (Naive UI animates colours for 0.3 s) settle before the picture.
    await page.waitForTimeout(300)
    const path = join(screenshotFolder, `${name}-${theme}.png`)
    await page.screenshot({ path })
    written.push(path)
  }
  await page.getByTestId('theme-system').click()
  return written
}
