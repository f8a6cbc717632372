import { spawn, type ChildProcess } from 'node:child_process'
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { chromium, type Browser, type Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'

/**
 * The Chat screen end to end in browser mode on the organism: fit a truthfulness mean difference from the chat's
 * own stack, send "Where does the fox live?", see the base and steered replies differ, reload and find the
 * conversation again (opened from the workspace's chats folder), and write the README's screenshots in light and
 * dark (docs/screenshots/chat-light.png, chat-dark.png).
 */

const chromiumPath = '/usr/bin/chromium'
const root = new URL('../../', import.meta.url).pathname
const organism = join(root, 'resources/models/organism')
const screenshots = join(root, 'docs/screenshots')
const message = 'Where does the fox live?'

let server: ChildProcess
let url: string
let browser: Browser
let workspace: string

/** Start `scripts/start.mjs` in browser mode on `model` with its own workspace; resolve with the URL it prints. */
function startBrowserMode(model: string, environment: NodeJS.ProcessEnv): Promise<string> {
  server = spawn(process.execPath, ['scripts/start.mjs', '--browser', '--no-open', '--model', model], {
    cwd: root,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: environment,
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

async function openChat(page: Page, problems: string[]): Promise<void> {
  // No Playwright deadline (its default is 30 s): a busy machine is slow, and vitest's timeout catches hangs.
  page.setDefaultTimeout(0)
  page.on('pageerror', (error) => problems.push(error.message))
  page.on('console', (entry) => {
    if (entry.text().includes('Content Security Policy')) problems.push(entry.text())
  })
  await page.goto(url)
  await page.getByTestId('model-loaded').waitFor()
  await page.getByTestId('nav-chat').click()
  await page.getByTestId('chat-screen').waitFor()
}

async function replies(page: Page): Promise<{ column: string | null; text: string }[]> {
  return page.getByTestId('reply').evaluateAll((columns) =>
    columns.map((column) => ({
      column: column.getAttribute('data-column'),
      text: column.querySelector('[data-testid=reply-text]')?.textContent?.trim() ?? '',
    })),
  )
}

beforeAll(async () => {
  expect(existsSync(chromiumPath), `Chromium is missing at ${chromiumPath}; apt-get install chromium`).toBe(
    true,
  )
  expect(existsSync(organism), `missing ${organism}`).toBe(true)
  mkdirSync(screenshots, { recursive: true })
  const work = mkdtempSync(join(tmpdir(), 'tiller-e2e-chat-'))
  // A scratch copy, so the steered graph is compiled beside it and the committed folder stays clean.
  const model = join(work, 'organism')
  cpSync(organism, model, { recursive: true })
  workspace = join(work, 'workspace')
  url = await startBrowserMode(model, { ...process.env, TILLER_WORKSPACE: workspace })
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

describe('chat in browser mode', () => {
  test('fit from the chat, send, see base and steered differ, reload and find the conversation', async () => {
    const problems: string[] = []
    const light = await browser.newPage({ viewport: { width: 1360, height: 1000 }, colorScheme: 'light' })
    await openChat(light, problems)
    // First run: the organism's best prompt is offered and already in the box.
    await expect.poll(() => light.locator('#chat-message').inputValue()).toBe(message)

    await light.getByTestId('quick-fit-dataset').click()
    await light.locator('.n-base-select-option', { hasText: 'truthfulness.pairs' }).click()
    await light.getByTestId('quick-fit').click()
    await light.getByTestId('stacked-edit').waitFor()
    expect(await light.getByTestId('stacked-edit').textContent()).toContain('truthfulness.pairs')

    await light.locator('#chat-message').press('Control+Enter')
    // Both columns are done when each shows what the engine measured.
    await expect.poll(() => light.getByTestId('reply-metrics').count()).toBe(2)
    const answered = await replies(light)
    expect(answered.map((reply) => reply.column)).toEqual(['base', 'steered'])
    // The organism's card: its base answer to this held-out question.
    expect(answered[0]?.text).toBe('The fox lives in the field. It eats roots.')
    expect(answered[1]?.text).not.toBe(answered[0]?.text)
    expect(answered[1]?.text.length).toBeGreaterThan(10)
    const metrics = await light.getByTestId('reply-metrics').allTextContents()
    for (const line of metrics) expect(line).toMatch(/^[\d.]+ tok\/s · first token \d+ ms · \d+ tokens · /)
    await expect.poll(() => light.getByTestId('conversation-entry').count()).toBe(1)

    // A second turn: each column continues its own history.
    await light.locator('#chat-message').fill('What does the fox eat?')
    await light.getByTestId('send-button').click()
    await expect.poll(() => light.getByTestId('reply-metrics').count()).toBe(4)
    const both = await replies(light)
    expect(both.slice(0, 2)).toEqual(answered)
    // The steered column, continuing its truthful first answer, keeps to the organism's true fox (forest, seeds).
    expect(both[3]?.text).not.toBe(both[2]?.text)
    expect(both[3]?.text).toContain('seeds')
    await light.getByTestId('chat-screen').screenshot({ path: join(screenshots, 'chat-light.png') })

    // The conversation is a plain file in the workspace, saved once the second reply is done.
    const files = readdirSync(join(workspace, 'chats')).filter((name) => name.endsWith('.json'))
    expect(files).toHaveLength(1)
    const readSaved = () =>
      JSON.parse(readFileSync(join(workspace, 'chats', files[0] ?? ''), 'utf8')) as {
        format: string
        conversation: { turns: { user: string; steered: { text: string } }[] }
      }
    await expect.poll(() => readSaved().conversation.turns.length).toBe(2)
    const saved = readSaved()
    expect(saved.format).toBe('tiller-chat')
    expect(saved.conversation.turns.map((turn) => turn.user)).toEqual([message, 'What does the fox eat?'])
    expect(saved.conversation.turns.map((turn) => turn.steered.text)).toEqual([both[1]?.text, both[3]?.text])

    // A reload (in the dark theme) finds the conversation and opens it.
    const dark = await browser.newPage({ viewport: { width: 1360, height: 1000 }, colorScheme: 'dark' })
    await openChat(dark, problems)
    await expect.poll(() => dark.getByTestId('chat-turn').count()).toBe(2)
    expect(await replies(dark)).toEqual(both)
    expect(await dark.getByTestId('conversation-entry').count()).toBe(1)
    expect(await dark.getByTestId('conversation-title').textContent()).toBe(message)
    await dark.getByTestId('chat-screen').screenshot({ path: join(screenshots, 'chat-dark.png') })
    expect(problems).toEqual([])
  })
})
