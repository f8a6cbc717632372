import { existsSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import type { Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { workspaceFolder } from '../../src/main/core/workspace/workspace-root.ts'
import { openStudioPage, screenshotFolder, startStudio, type Studio } from './studio-browser.ts'

/**
 * End to end in browser mode on the embedded organism: on the Fit screen, diagnose the sentiment pairs' layers,
 * take the recommended layer and fit a mean difference; on the Evaluate screen, evaluate it on the sentiment items
 * and read the sweep chart, the test numbers and side effects; pick a strength; reload and find the run again.
 * Writes the README's screenshots of both screens, light and dark, to docs/screenshots/.
 */

const viewport = { width: 1360, height: 1000 }

let studio: Studio

/** Evaluation runs saved in the test workspace (the studio runs in this process). */
function savedRuns(): string[] {
  const folder = workspaceFolder('runs')
  return existsSync(folder) ? readdirSync(folder).filter((name) => name.endsWith('.json')) : []
}

/** A page once the model is loaded, with its problems (script errors, CSP violations). */
async function openPage(colorScheme: 'light' | 'dark'): Promise<{ page: Page; problems: string[] }> {
  const opened = await openStudioPage(studio, { colorScheme, viewport })
  await opened.page.getByTestId('model-loaded').waitFor()
  return opened
}

/** Choose `label` in the Naive UI select with test id `testId`. */
async function choose(page: Page, testId: string, label: string): Promise<void> {
  await page.getByTestId(testId).click()
  await page.locator('.n-base-select-option', { hasText: label }).click()
}

/** Run the layer diagnostics of the chosen set and return the recommended layer. */
async function diagnose(page: Page): Promise<number> {
  await page.getByTestId('diagnose-button').click()
  await page.getByTestId('diagnostics-chart').locator('canvas').waitFor()
  const button = (await page.getByTestId('use-recommended-layer').textContent()) ?? ''
  const layer = Number(/Use layer (\d+)/.exec(button)?.[1])
  expect(Number.isInteger(layer)).toBe(true)
  return layer
}

/** Wait until no evaluation is running and the run view shows its chart. */
async function evaluationShown(page: Page): Promise<void> {
  await page.getByTestId('sweep-chart').locator('canvas').waitFor()
  await expect.poll(() => page.getByTestId('evaluation-progress').count()).toBe(0)
}

beforeAll(async () => {
  studio = await startStudio()
})

afterAll(async () => {
  await studio?.close()
})

describe('Fit and Evaluate in browser mode', () => {
  test('diagnose, fit at the recommended layer, evaluate, pick a strength, reload', async () => {
    const { page, problems } = await openPage('light')
    await page.getByTestId('nav-fit').click()
    await choose(page, 'fit-dataset', 'sentiment.pairs')
    expect(await page.getByTestId('fit-layers').locator('input').getAttribute('placeholder')).toMatch(
      /^default: \d+$/,
    )
    const layer = await diagnose(page)
    expect(await page.getByTestId('diagnostics-reason').textContent()).toContain(`Layer ${layer}`)
    await page.getByTestId('use-recommended-layer').click()
    expect(await page.getByTestId('fit-layers').locator('input').inputValue()).toBe(String(layer))
    await page.getByTestId('fit-start').click()
    await page.getByTestId('fit-result').waitFor()
    const summary = (await page.getByTestId('fit-result').textContent()) ?? ''
    expect(summary).toContain('128 training pairs')
    expect(summary).toMatch(new RegExp(`Layers:\\s*${layer}Site`))
    // Diagnose again with the fitted edit at the method's default strength: norms after it and direction cosines.
    expect(await page.getByTestId('diagnose-strength').locator('input').inputValue()).toBe('1')
    await page.getByTestId('diagnose-button').click()
    await page.getByTestId('edit-directions').waitFor()
    expect(await page.getByTestId('diagnostics-card').textContent()).toContain(
      'with the fitted edit compiled in at strength 1',
    )
    await page.screenshot({ path: join(screenshotFolder, 'fit-light.png'), fullPage: true })

    await page.getByTestId('nav-evaluate').click()
    await expect
      .poll(() => page.getByTestId('evaluation-edit').textContent())
      .toContain(`mean-diff · sentiment.pairs · layer ${layer}`)
    expect(await page.getByTestId('evaluation-dataset').textContent()).toContain('sentiment.mc')
    const savedBefore = savedRuns().length
    await page.getByTestId('evaluation-limit').locator('input').fill('16')
    await page.getByTestId('evaluation-start').click()
    await evaluationShown(page)
    expect(await page.getByTestId('run-entry').count()).toBe(savedBefore + 1)
    const mc1 = (await page.getByTestId('mc1-row').textContent()) ?? ''
    // base and edited MC1 with their intervals, the change and the chance level (two choices).
    expect(mc1).toMatch(
      /^MC1\d+\.\d % \[\d+\.\d, \d+\.\d\]\d+\.\d % \[\d+\.\d, \d+\.\d\][+−]\d+\.\d pt50\.0 %$/,
    )
    expect(await page.locator('[data-testid=side-effects] tbody tr').count()).toBe(3)
    expect(await page.locator('[data-testid=sweep-table] tbody tr').count()).toBe(7)
    expect(savedRuns()).toHaveLength(savedBefore + 1)

    await page.getByTestId('pick-1.333').click()
    await expect
      .poll(() => page.getByTestId('pick-note').textContent())
      .toContain('Strength 1.333 is now the default')
    await page.screenshot({ path: join(screenshotFolder, 'evaluate-light.png'), fullPage: true })

    // A reload finds the run where it was.
    // The studio reopens the screen it showed (#/evaluate); the header says when the model is back.
    await page.reload()
    await expect.poll(() => page.getByTestId('header-model').textContent()).toBe('organism')
    await page.getByTestId('nav-evaluate').click()
    await evaluationShown(page)
    expect(await page.getByTestId('run-entry').count()).toBe(savedBefore + 1)
    expect(problems).toEqual([])
    await page.close()
  })

  test('both screens in the dark theme', async () => {
    // The run the first test saved is what the Evaluate screen shows; without it there is nothing to wait for.
    expect(savedRuns().length).toBeGreaterThan(0)
    const { page, problems } = await openPage('dark')
    await page.getByTestId('nav-fit').click()
    await choose(page, 'fit-dataset', 'sentiment.pairs')
    await diagnose(page)
    await page.getByTestId('use-recommended-layer').click()
    await page.screenshot({ path: join(screenshotFolder, 'fit-dark.png'), fullPage: true })
    await page.getByTestId('nav-evaluate').click()
    await evaluationShown(page)
    await page.screenshot({ path: join(screenshotFolder, 'evaluate-dark.png'), fullPage: true })
    // The theme really is dark: the page background is dark.
    // A string expression: the node project's types have no DOM.
    const background = String(await page.evaluate('getComputedStyle(document.body).backgroundColor'))
    const channels = (background.match(/\d+/g) ?? []).slice(0, 3).map(Number)
    expect(Math.max(...channels)).toBeLessThan(80)
    expect(problems).toEqual([])
    await page.close()
  })
})
