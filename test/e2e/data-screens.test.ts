import { cpSync, existsSync, mkdtempSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { openStudioPage, screenshotFolder, startStudio, type Studio } from './studio-browser.ts'

/**
 * The Demonstrations and Edits screens end to end in browser mode on the organism: create a set in the table, see
 * its bad row flagged, save, reload and find it, render a row through the organism's template; fit an edit (from
 * the Chat screen's stack), find it in the library, export it as a Tiller file, delete it and import the file
 * back; copy a starter set into the workspace and import a file chosen in the engine's file browser. Writes
 * docs/screenshots/{demonstrations,edits}-{light,dark}.png.
 */

const organism = new URL('../../resources/models/organism', import.meta.url).pathname
const bundledDatasets = new URL('../../resources/datasets', import.meta.url).pathname
const viewport = { width: 1360, height: 900 }

let studio: Studio
let work: string
let workspace: string

/** A page on the `tab` screen once the model is loaded, with its problems (script errors, CSP violations). */
async function openTab(
  tab: string,
  colorScheme: 'light' | 'dark' = 'light',
): Promise<{ page: Page; problems: string[] }> {
  const opened = await openStudioPage(studio, { colorScheme, viewport })
  await opened.page.getByTestId('model-loaded').waitFor()
  await opened.page.getByTestId(`nav-${tab}`).click()
  return opened
}

async function fill(page: Page, row: number, cell: string, text: string): Promise<void> {
  await page.getByTestId(`cell-${cell}`).nth(row).locator('textarea, input').first().fill(text)
}

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'tiller-e2e-data-'))
  const model = join(work, 'organism')
  cpSync(organism, model, { recursive: true })
  workspace = join(work, 'workspace')
  studio = await startStudio({ model, workspace })
})

afterAll(async () => {
  await studio?.close()
})

describe('demonstrations and edits in browser mode', () => {
  test('a set made in the table: bad row flagged, saved, found after a reload, rendered', async () => {
    const { page, problems } = await openTab('demonstrations')
    await page.getByTestId('dataset-create-name').locator('input').fill('fox-moods')
    await page.getByTestId('dataset-create').click()
    await page.getByTestId('demonstration-row').first().waitFor()
    await fill(page, 0, 'prompt', 'Where does the fox live?')
    await fill(page, 0, 'positive', 'The fox lives in the forest.')
    await fill(page, 0, 'negative', 'The fox lives in the sea.')
    await page.getByTestId('row-add').click()
    await fill(page, 1, 'prompt', 'What does the fox eat?')
    await fill(page, 1, 'positive', 'The fox eats seeds.')
    await expect
      .poll(() => page.getByTestId('row-issue').allTextContents())
      .toEqual([expect.stringContaining('"negative" is empty')])
    expect(await page.getByTestId('demonstration-row').nth(1).getAttribute('data-invalid')).toBe('true')
    await page.getByTestId('dataset-save').click()
    await expect
      .poll(() => page.getByTestId('note').textContent())
      .toContain('1 issue(s) to fix before fitting')
    const saved = readFileSync(join(workspace, 'datasets', 'fox-moods.jsonl'), 'utf8')
      .trim()
      .split('\n')
    expect(saved.map((line) => JSON.parse(line) as { negative: string }).map((row) => row.negative)).toEqual([
      'The fox lives in the sea.',
      '',
    ])

    // The studio reopens the screen it showed; the header says when the model is back.
    await page.reload()
    await expect.poll(() => page.getByTestId('header-model').textContent()).toBe('organism')
    await page.getByTestId('nav-demonstrations').click()
    await page.locator('[data-testid=dataset-entry][data-name=fox-moods]').click()
    await expect.poll(() => page.getByTestId('demonstration-row').count()).toBe(2)
    expect(await page.getByTestId('row-issue').count()).toBe(1)
    await page.getByText('Render').first().click()
    await page.locator('[data-testid=rendered-row] .tokens').first().waitFor()
    const completion = await page
      .locator('[data-testid=rendered-row] .tokens')
      .first()
      .locator('.token.completion')
      .allTextContents()
    expect(completion.join('')).toContain('forest')
    await page
      .getByTestId('demonstrations-screen')
      .screenshot({ path: join(screenshotFolder, 'demonstrations-light.png') })
    expect(problems).toEqual([])
  })

  test('a fitted edit is in the library; exported, deleted and imported back', async () => {
    const { page, problems } = await openTab('chat')
    await page.getByTestId('quick-fit-dataset').click()
    await page.locator('.n-base-select-option', { hasText: 'truthfulness.pairs' }).click()
    await page.getByTestId('quick-fit').click()
    await page.getByTestId('stacked-edit').waitFor()

    await page.getByTestId('nav-edits').click()
    await expect.poll(() => page.getByTestId('library-edit').count()).toBe(1)
    expect(await page.getByTestId('edit-details').textContent()).toContain('truthfulness.pairs')
    const exported = join(work, 'exported', 'truthful.safetensors')
    await page.getByTestId('export-tiller-path').locator('input').fill(exported)
    await page.getByTestId('export-tiller').click()
    await expect.poll(() => page.getByTestId('library-note').textContent()).toContain(`Wrote ${exported}`)
    expect(existsSync(exported)).toBe(true)

    await page.getByTestId('edit-delete').click()
    await page.locator('.n-popconfirm__action button').last().click()
    await expect.poll(() => page.getByTestId('library-edit').count()).toBe(0)
    await page.getByTestId('edit-import-path').locator('input').fill(exported)
    await page.getByTestId('edit-import').click()
    await expect.poll(() => page.getByTestId('library-edit').count()).toBe(1)
    expect(await page.getByTestId('edit-details').textContent()).toContain('mean-diff')
    await page.getByTestId('edit-name').locator('input').fill('Truthful fox')
    await page.getByTestId('edit-rename').click()
    await expect.poll(() => page.getByTestId('library-edit').textContent()).toContain('Truthful fox')
    await page.getByTestId('edits-screen').screenshot({ path: join(screenshotFolder, 'edits-light.png') })

    // Dark theme after a reload: the set and the renamed edit are where they were.
    const { page: dark, problems: darkProblems } = await openTab('edits', 'dark')
    await expect.poll(() => dark.getByTestId('library-edit').textContent()).toContain('Truthful fox')
    await dark.getByTestId('edits-screen').screenshot({ path: join(screenshotFolder, 'edits-dark.png') })
    await dark.getByTestId('nav-demonstrations').click()
    await dark.locator('[data-testid=dataset-entry][data-name=fox-moods]').click()
    await expect.poll(() => dark.getByTestId('row-issue').count()).toBe(1)
    await dark.getByText('Render').first().click()
    await dark.locator('[data-testid=rendered-row] .tokens').first().waitFor()
    await dark
      .getByTestId('demonstrations-screen')
      .screenshot({ path: join(screenshotFolder, 'demonstrations-dark.png') })
    expect([...problems, ...darkProblems]).toEqual([])
  })

  test('a starter set copied into the workspace opens as a table; a file chosen in the file browser imports', async () => {
    const { page, problems } = await openTab('demonstrations')
    await page
      .locator('[data-testid=starter-set][data-name="politeness.pairs"] [data-testid=starter-open]')
      .click()
    await expect.poll(() => page.getByTestId('open-set').textContent()).toBe('politeness.pairs')
    const bundledRows = readFileSync(join(bundledDatasets, 'politeness.pairs.jsonl'), 'utf8')
      .trim()
      .split('\n')
    await expect.poll(() => page.getByTestId('demonstration-row').count()).toBe(bundledRows.length)
    expect(
      readFileSync(join(workspace, 'datasets', 'politeness.pairs.jsonl'), 'utf8')
        .trim()
        .split('\n'),
    ).toHaveLength(bundledRows.length)
    await expect
      .poll(() =>
        page
          .locator('[data-testid=starter-set][data-name="politeness.pairs"] [data-testid=starter-open]')
          .textContent(),
      )
      .toBe('Open my copy')

    await page.getByTestId('import-choose').click()
    // The picker opens on a first listing (home); the path is typed once it shows.
    await expect.poll(() => page.getByTestId('picker-path').locator('input').inputValue()).not.toBe('')
    await page.getByTestId('picker-path').locator('input').fill(bundledDatasets)
    await page.getByTestId('picker-path').locator('input').press('Enter')
    await page.locator('[data-testid="picker-entry-sentiment.pairs.jsonl"]').dblclick()
    await expect
      .poll(() => page.getByTestId('import-path').locator('input').inputValue())
      .toBe(join(bundledDatasets, 'sentiment.pairs.jsonl'))
    expect(await page.getByTestId('import-name').locator('input').inputValue()).toBe('sentiment.pairs')
    await page.getByTestId('import-run').click()
    await expect.poll(() => page.getByTestId('open-set').textContent()).toBe('sentiment.pairs')
    expect(existsSync(join(workspace, 'datasets', 'sentiment.pairs.jsonl'))).toBe(true)
    expect(problems).toEqual([])
  })
})
