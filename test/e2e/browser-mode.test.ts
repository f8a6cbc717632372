import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync, mkdirSync, readFileSync } from 'node:fs'
import { chromium, type Browser } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { generate } from '../../src/main/core/runtime/generate.ts'
import { loadModel } from '../../src/main/core/runtime/model.ts'
import { renderPrompt } from '../../src/main/core/runtime/prompt.ts'

/**
 * End to end: `npm start` in browser mode (as a user runs it, Electron's binary absent or bypassed), driven by
 * Debian's Chromium through Playwright. Screenshots go to test-output/.
 */

const chromiumPath = '/usr/bin/chromium'
const root = new URL('../../', import.meta.url).pathname
const fixture = new URL('../../../shared/fixtures/ortgenai-tiny-llama-fp16', import.meta.url).pathname
const outputDirectory = new URL('../../test-output/', import.meta.url).pathname
const prompt = 'Once upon a time'
const maxTokens = 12

function packageVersion(path: string): string {
  const url = new URL(`../../node_modules/${path}/package.json`, import.meta.url)
  return (JSON.parse(readFileSync(url, 'utf8')) as { version: string }).version
}

let server: ChildProcess
let url: string
let browser: Browser

/** Start `scripts/start.mjs` and resolve with the URL it prints. */
function startBrowserMode(): Promise<string> {
  server = spawn(process.execPath, ['scripts/start.mjs', '--browser', '--no-open', '--model', fixture], {
    cwd: root,
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  return new Promise((resolve, reject) => {
    let printed = ''
    server.stdout?.on('data', (chunk: Buffer) => {
      printed += chunk.toString('utf8')
      const match = /browser mode at (http:\/\/127\.0\.0\.1:\d+\/\?token=[\w-]+)/.exec(printed)
      if (match?.[1] !== undefined) resolve(match[1])
    })
    server.stderr?.on('data', (chunk: Buffer) => process.stderr.write(chunk))
    server.once('exit', (code) =>
      reject(new Error(`npm start exited with ${code} before printing a URL:\n${printed}`)),
    )
  })
}

beforeAll(async () => {
  expect(
    existsSync(chromiumPath),
    `Chromium is missing at ${chromiumPath}; install it with apt-get install chromium`,
  ).toBe(true)
  expect(existsSync(fixture), `missing fixture ${fixture}`).toBe(true)
  mkdirSync(outputDirectory, { recursive: true })
  url = await startBrowserMode()
  // Running as root in a container needs Chromium's own sandbox off; the page is our local renderer.
  browser = await chromium.launch({
    executablePath: chromiumPath,
    headless: true,
    args: ['--no-sandbox'],
    timeout: 0,
  })
})

afterAll(async () => {
  await browser?.close()
  if (server !== undefined && server.exitCode === null) {
    const exited = new Promise((resolve) => server.once('exit', resolve))
    server.kill('SIGTERM')
    await exited
  }
})

describe('browser mode end to end', () => {
  test('the first screen shows the execution provider, versions and the loaded model; generation streams', async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } })
    // No Playwright deadline (its default is 30 s): a busy machine is slow, and vitest's timeout catches hangs.
    page.setDefaultTimeout(0)
    const problems: string[] = []
    page.on('pageerror', (error) => problems.push(error.message))
    // Browser mode's policy allows no inline script and no inline style attribute; a violation shows only in the console.
    page.on('console', (message) => {
      if (message.text().includes('Content Security Policy')) problems.push(message.text())
    })
    await page.goto(url)

    await expect.poll(() => page.getByTestId('execution-provider').textContent()).toBe('CPU')
    expect(await page.getByTestId('tiller-version').textContent()).toBe(packageVersion('..'))
    expect(await page.getByTestId('onnx-runtime-version').textContent()).toBe(
      packageVersion('onnxruntime-node'),
    )
    expect(await page.getByTestId('transformers-version').textContent()).toBe(
      packageVersion('@huggingface/transformers'),
    )
    await page.getByTestId('model-loaded').waitFor()
    expect(await page.getByTestId('model-loaded').textContent()).toContain(fixture)
    await page.screenshot({ path: `${outputDirectory}browser-mode-status.png`, fullPage: true })

    await page.getByTestId('nav-models').click()
    await page.locator('#prompt').fill(prompt)
    await page.getByLabel('Max tokens').fill(String(maxTokens))
    await page.getByLabel('Temperature').fill('0')
    await page.getByRole('button', { name: 'Generate' }).click()
    await page.getByTestId('generation-summary').waitFor()
    const shown = await page.getByTestId('generation-output').textContent()
    await page.screenshot({ path: `${outputDirectory}browser-mode-generate.png`, fullPage: true })

    // The page must show exactly what the runtime generates greedily for the same prompt.
    const model = await loadModel(fixture, { provider: 'cpu' })
    try {
      const ids = renderPrompt(model.tokenizer, prompt, {
        maxTokens,
        contextLength: model.config.maxPositionEmbeddings,
      }).ids
      const [reference] = await generate(model, { rows: [ids], options: { maxTokens, temperature: 0 } })
      expect(shown).toBe(prompt + (reference?.text ?? '<no reference row>'))
    } finally {
      await model.dispose()
    }
    expect(problems).toEqual([])
  })

  test('a page opened without the token cannot reach the engine and says what to open', async () => {
    const page = await browser.newPage()
    // No Playwright deadline (its default is 30 s): a busy machine is slow, and vitest's timeout catches hangs.
    page.setDefaultTimeout(0)
    await page.goto(url.replace(/\?token=.*/, ''))
    await page.getByTestId('engine-error').waitFor()
    expect(await page.getByTestId('engine-error').textContent()).toContain('token')
  })
})
