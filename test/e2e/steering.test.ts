import { existsSync, mkdirSync, mkdtempSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { exportModelFolder } from '../../src/main/core/models/exporter/index.ts'
import { importGguf } from '../../src/main/core/models/importers/gguf/import-gguf.ts'
import { sharedFixture } from '../helpers/shared-fixtures.ts'
import { openStudioPage, startStudio, type Studio } from './studio-browser.ts'

/**
 * End to end in browser mode on a real model (stories260K, imported from GGUF into a temporary folder): fit a
 * happy/sad mean difference from a demonstration file added in the Steer view, compare base and steered side by
 * side, and check the base column is exactly what the Generate panel produces for the same prompt; then fit SEA and
 * HPR through the same fit card and compare with each. Screenshots go to test-output/.
 */

const gguf = sharedFixture('stories260K-gguf/stories260K.gguf')
const outputDirectory = new URL('../../test-output/', import.meta.url).pathname
const prompt = 'Once upon a time'
const maxTokens = 48

/** Story openings with a happy and a sad continuation: the contrast the edit learns. */
const people = [
  ['Lily', 'park', 'She'],
  ['Tom', 'garden', 'He'],
  ['Sam', 'beach', 'He'],
  ['Mia', 'school', 'She'],
  ['Ben', 'forest', 'He'],
  ['Amy', 'house', 'She'],
  ['Max', 'farm', 'He'],
  ['Sue', 'lake', 'She'],
  ['Tim', 'shop', 'He'],
  ['Zoe', 'zoo', 'She'],
  ['Jack', 'hill', 'He'],
  ['Anna', 'river', 'She'],
] as const
const happy = [
  '{p} was very happy. {p} smiled and laughed all day.',
  '{p} felt so happy and glad. {p} played with a big smile.',
  '{p} was happy and had lots of fun. {p} laughed and sang.',
]
const sad = [
  '{p} was very sad. {p} cried and cried all day.',
  '{p} felt so sad and alone. {p} sat down and cried.',
  '{p} was sad and scared. {p} cried and wanted to go home.',
]

let studio: Studio
let work: string
let dataset: string

function demonstrationLines(): string {
  return people
    .map(([name, place, pronoun], index) =>
      JSON.stringify({
        id: `story-${index + 1}`,
        prompt: `Once upon a time, there was a little kid named ${name}. ${name} went to the ${place}.`,
        positive: (happy[index % 3] as string).replaceAll('{p}', pronoun),
        negative: (sad[index % 3] as string).replaceAll('{p}', pronoun),
      }),
    )
    .join('\n')
}

async function columnTexts(page: Page): Promise<{ strength: string | null; label: string; text: string }[]> {
  return page.getByTestId('compare-column').evaluateAll((columns) =>
    columns.map((column) => ({
      strength: column.getAttribute('data-strength'),
      label: column.querySelector('[data-testid=column-label]')?.textContent?.trim() ?? '',
      text: column.querySelector('[data-testid=column-text]')?.textContent ?? '',
    })),
  )
}

/** Start the comparison and wait until each of its `count` columns shows its finish reason, without an error. */
async function runCompare(
  page: Page,
  count: number,
): Promise<{ strength: string | null; label: string; text: string }[]> {
  await page.getByTestId('compare-button').click()
  await expect.poll(() => page.locator('[data-testid=compare-column] footer').count()).toBe(count)
  expect(await page.getByTestId('compare-error').count()).toBe(0)
  return columnTexts(page)
}

beforeAll(async () => {
  expect(existsSync(gguf), `missing fixture ${gguf}`).toBe(true)
  mkdirSync(outputDirectory, { recursive: true })
  work = mkdtempSync(join(tmpdir(), 'tiller-e2e-steer-'))
  const folder = join(work, 'stories260K')
  const imported = await importGguf(gguf)
  await exportModelFolder(imported.checkpoint, imported.tokenizer, folder, { family: 'builder' })
  dataset = join(work, 'happy-sad.jsonl')
  writeFileSync(dataset, demonstrationLines() + '\n')
  // Its own workspace: the edit library would otherwise list edits other test files persisted.
  studio = await startStudio({ model: folder, workspace: join(work, 'workspace') })
})

afterAll(async () => {
  await studio?.close()
})

describe('steering in browser mode', () => {
  test('fit an edit on a demonstration file, then compare: the base column equals plain generation', async () => {
    const { page, problems } = await openStudioPage(studio, { viewport: { width: 1360, height: 1000 } })
    await page.getByTestId('model-loaded').waitFor()

    // The plain Generate panel (the Chat screen), greedy: the reference the base column must reproduce.
    await page.getByTestId('nav-models').click()
    await page.locator('#prompt').fill(prompt)
    await page.getByLabel('Max tokens').fill(String(maxTokens))
    await page.getByLabel('Temperature').fill('0')
    await page.getByRole('button', { name: 'Generate' }).click()
    await page.getByTestId('generation-summary').waitFor()
    const generated = (await page.getByTestId('generation-output').textContent()) ?? ''
    expect(generated.startsWith(prompt)).toBe(true)
    const plain = generated.slice(prompt.length)
    expect(plain.length).toBeGreaterThan(20)

    await page.getByTestId('nav-compare').click()
    await page.locator('#dataset-path').fill(dataset)
    await page.getByTestId('dataset-add').click()
    await expect.poll(() => page.locator('#dataset-select').inputValue()).toBe(dataset)
    await page.getByTestId('dataset-preview').waitFor()
    expect(await page.locator('[data-testid=dataset-preview] tbody tr').count()).toBe(8)
    expect(await page.locator('#method-select').inputValue()).toBe('mean-diff')
    expect(await page.locator('#fit-layers').getAttribute('placeholder')).toBe('default: 2')

    await page.getByTestId('fit-button').click()
    await page.getByTestId('fit-summary').waitFor()
    expect(await page.getByTestId('fit-summary').textContent()).toContain('fitted on 12 pairs')
    expect(await page.locator('#edit-select option').count()).toBe(1)

    await page.locator('#compare-prompt').fill(prompt)
    await page.locator('#compare-chat').uncheck()
    await page.locator('#compare-max-tokens').fill(String(maxTokens))
    await page.locator('#compare-temperature').fill('0')
    // Default strengths are 0 and the method's 1; make the change plain to see, both ways.
    await page.getByRole('button', { name: 'Remove strength 1' }).click()
    await page.locator('#strength-input').fill('2')
    await page.locator('#strength-input').press('Enter')
    await page.getByRole('button', { name: 'Add negative' }).click()
    const columns = await runCompare(page, 3)
    expect(columns.map((column) => [column.strength, column.label])).toEqual([
      ['0', 'base'],
      ['2', 'steered · α 2'],
      ['-2', 'steered · α -2'],
    ])
    expect(columns[0]?.text).toBe(plain)
    expect(columns[1]?.text).not.toBe(plain)
    expect(columns[2]?.text).not.toBe(plain)

    const exported = join(work, 'happy-sad.gguf')
    await page.locator('#export-path').fill(exported)
    await page.getByRole('button', { name: 'Export GGUF' }).click()
    await expect.poll(() => page.getByTestId('file-note').textContent()).toContain('Exported')
    expect(statSync(exported).size).toBeGreaterThan(256)

    await page.screenshot({ path: `${outputDirectory}steer-compare.png`, fullPage: true })
    expect(problems).toEqual([])
  })

  test('fit the seed methods SEA and HPR from the fit card, then compare with each', async () => {
    const { page, problems } = await openStudioPage(studio, { viewport: { width: 1360, height: 1000 } })
    await page.getByTestId('model-loaded').waitFor()
    await page.getByTestId('nav-compare').click()
    await page.locator('#dataset-path').fill(dataset)
    await page.getByTestId('dataset-add').click()
    await expect.poll(() => page.locator('#dataset-select').inputValue()).toBe(dataset)

    const baseColumns: string[] = []
    for (const [method, note] of [
      ['sea', /keep k⁺ = \d+/],
      ['hpr', /probe/],
    ] as const) {
      const editsBefore = await page.locator('#edit-select option').count()
      await page.locator('#method-select').selectOption(method)
      await page.getByTestId('fit-button').click()
      await expect
        .poll(() => page.locator('#edit-select option').count(), { timeout: 60_000 })
        .toBe(editsBefore + 1)
      const summary = (await page.getByTestId('fit-summary').textContent()) ?? ''
      expect(summary, method).toContain(`${method} fitted on 12 pairs`)
      expect(summary, method).toMatch(note)
      expect(await page.getByTestId('fit-error').count()).toBe(0)

      await page.locator('#compare-prompt').fill(prompt)
      await page.locator('#compare-chat').uncheck()
      await page.locator('#compare-max-tokens').fill(String(maxTokens))
      await page.locator('#compare-temperature').fill('0')
      // The method's default strengths, 0 and 1.
      const columns = await runCompare(page, 2)
      expect(columns.map((column) => [column.strength, column.label])).toEqual([
        ['0', 'base'],
        ['1', 'steered · α 1'],
      ])
      baseColumns.push(columns[0]?.text ?? '')
      // HPR's rotation at strength 1 moves this model's story (SEA keeps it: the kept and removed directions are few).
      if (method === 'hpr') expect(columns[1]?.text).not.toBe(columns[0]?.text)
    }
    // Strength 0 of either edit is the base model.
    expect(baseColumns[0]?.length).toBeGreaterThan(20)
    expect(baseColumns[1]).toBe(baseColumns[0])
    expect(problems).toEqual([])
  })
})
