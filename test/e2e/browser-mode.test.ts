import { existsSync, mkdirSync, readFileSync } from 'node:fs'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { generate } from '../../src/main/core/runtime/generate.ts'
import { loadModel } from '../../src/main/core/runtime/model.ts'
import { renderPrompt } from '../../src/main/core/runtime/prompt.ts'
import { sharedFixture } from '../helpers/shared-fixtures.ts'
import { openStudioPage, startStudioCommand, type RunningStudio } from './studio-browser.ts'

/**
 * End to end: `npm start` in browser mode (as a user runs it, Electron's binary absent or bypassed), driven by
 * Debian's Chromium through Playwright. Screenshots go to test-output/.
 */

const fixture = sharedFixture('ortgenai-tiny-llama-fp16')
const outputDirectory = new URL('../../test-output/', import.meta.url).pathname
const prompt = 'Once upon a time'
const maxTokens = 12

function packageVersion(path: string): string {
  const url = new URL(`../../node_modules/${path}/package.json`, import.meta.url)
  return (JSON.parse(readFileSync(url, 'utf8')) as { version: string }).version
}

let studio: RunningStudio

beforeAll(async () => {
  expect(existsSync(fixture), `missing fixture ${fixture}`).toBe(true)
  mkdirSync(outputDirectory, { recursive: true })
  studio = await startStudioCommand({ model: fixture })
})

afterAll(async () => {
  await studio?.close()
})

describe('browser mode end to end', () => {
  test('the first screen shows the execution provider, versions and the loaded model; generation streams', async () => {
    const { page, problems } = await openStudioPage(studio, { viewport: { width: 1280, height: 900 } })

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
    const { page } = await openStudioPage(studio, { url: studio.url.replace(/\?token=.*/, '') })
    await page.getByTestId('engine-error').waitFor()
    expect(await page.getByTestId('engine-error').textContent()).toContain('token')
  })
})
