import { spawn } from 'node:child_process'
import { existsSync, mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { chromium, type Browser, type Page } from 'playwright-core'
import { workspaceVariable } from '../../src/main/core/workspace/workspace-root.ts'
import { startBrowserMode, type BrowserMode } from '../../src/main/server/main.ts'
import { rendererDirectory } from './renderer-build.ts'

/**
 * What studio end-to-end tests share (the renderer is built once before any file runs: renderer-build.ts):
 * browser mode started in this process (so a test can reach its supervised
 * engine, e.g. to kill it) or through `npm start` as a user runs it, Debian's Chromium through Playwright, a page
 * that records script errors and content security policy violations, and screenshots of a screen in the light and
 * the dark theme.
 */

export const chromiumPath = '/usr/bin/chromium'
const root = new URL('../../', import.meta.url).pathname

/** A running studio: its page address (with the token), a browser, and how to stop both. */
export interface RunningStudio {
  browser: Browser
  url: string
  close(): Promise<void>
}

/** A studio whose browser mode runs in this process: the test reaches its supervised engine. */
export interface Studio extends RunningStudio {
  mode: BrowserMode
}

/** How a studio starts. */
export interface StudioOptions {
  /** A model folder to load (default: the embedded organism). */
  model?: string
  /** A workspace of the studio's own (default: the test run's, shared with other end-to-end files). */
  workspace?: string
}

/** Fail before starting anything when Debian's Chromium is absent. */
function requireChromium(): void {
  if (!existsSync(chromiumPath))
    throw new Error(`Chromium is missing at ${chromiumPath}; apt-get install chromium`)
}

/** Debian's Chromium through Playwright. */
async function launchChromium(): Promise<Browser> {
  // Running as root in a container needs Chromium's own sandbox off; the page is our local renderer.
  return chromium.launch({ executablePath: chromiumPath, headless: true, args: ['--no-sandbox'], timeout: 0 })
}

/** Start browser mode in this process on `options.model` and launch Chromium. */
export async function startStudio(options: StudioOptions = {}): Promise<Studio> {
  requireChromium()
  // Each end-to-end file runs in its own process, so this moves only this file's studio (and its engine thread,
  // which copies the environment when it starts) to the workspace.
  if (options.workspace !== undefined) process.env[workspaceVariable] = options.workspace
  const mode = await startBrowserMode({
    rendererDirectory,
    port: 0,
    ...(options.model === undefined ? {} : { model: options.model }),
  })
  const browser = await launchChromium()
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

/** Start `npm start -- --browser --no-open` in its own process, as a user runs it, and launch Chromium. */
export async function startStudioCommand(options: StudioOptions = {}): Promise<RunningStudio> {
  requireChromium()
  const server = spawn(
    process.execPath,
    [
      'scripts/start.mjs',
      '--browser',
      '--no-open',
      ...(options.model === undefined ? [] : ['--model', options.model]),
    ],
    {
      cwd: root,
      stdio: ['ignore', 'pipe', 'pipe'],
      env:
        options.workspace === undefined
          ? process.env
          : { ...process.env, [workspaceVariable]: options.workspace },
    },
  )
  const url = await new Promise<string>((resolve, reject) => {
    let printed = ''
    server.stdout.on('data', (chunk: Buffer) => {
      printed += chunk.toString('utf8')
      const match = /browser mode at (http:\/\/127\.0\.0\.1:\d+\/\?token=[\w-]+)/.exec(printed)
      if (match?.[1] !== undefined) resolve(match[1])
    })
    server.stderr.on('data', (chunk: Buffer) => process.stderr.write(chunk))
    server.once('exit', (code) =>
      reject(new Error(`npm start exited with ${code} before printing a URL:\n${printed}`)),
    )
  })
  const browser = await launchChromium()
  return {
    browser,
    url,
    async close() {
      await browser.close()
      if (server.exitCode !== null) return
      const exited = new Promise((resolve) => server.once('exit', resolve))
      server.kill('SIGTERM')
      await exited
    },
  }
}

/** How a studio page opens. */
export interface PageOptions {
  colorScheme?: 'light' | 'dark'
  /** Appended to the studio's address, e.g. `#/chat`. */
  hash?: string
  /** Default 1360 × 860. */
  viewport?: { width: number; height: number }
  /** Another address than the studio's own (e.g. without its token). */
  url?: string
}

/** A page on the studio with its problems (script errors, CSP violations) collected in `problems`. */
export async function openStudioPage(
  studio: RunningStudio,
  options: PageOptions = {},
): Promise<{ page: Page; problems: string[] }> {
  const page = await studio.browser.newPage({
    viewport: options.viewport ?? { width: 1360, height: 860 },
    colorScheme: options.colorScheme ?? 'light',
  })
  // Playwright's 30 s default is too short for a busy machine; a step stuck for five minutes is a hang, and failing
  // then names the step waited on (vitest's own timeout names none).
  page.setDefaultTimeout(300_000)
  const problems: string[] = []
  page.on('pageerror', (error) => problems.push(error.message))
  // Browser mode's policy allows no inline script and no inline style attribute; a violation shows only in the console.
  page.on('console', (message) => {
    if (message.text().includes('Content Security Policy')) problems.push(message.text())
  })
  await page.goto(options.url ?? `${studio.url}${options.hash ?? ''}`)
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
