import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { openStudioPage, screenshotFolder, startStudio, type Studio } from './studio-browser.ts'

/**
 * The Chat screen end to end in browser mode on the organism: fit a truthfulness mean difference from the chat's
 * own stack, send "Where does the fox live?", see the base and steered replies differ, reload and find the
 * conversation again (opened from the workspace's chats folder), and write the README's screenshots in light and
 * dark (docs/screenshots/chat-light.png, chat-dark.png).
 */

const organism = new URL('../../resources/models/organism', import.meta.url).pathname
const viewport = { width: 1360, height: 1000 }
const message = 'Where does the fox live?'

let studio: Studio
let workspace: string

/** A page on the Chat screen once the model is loaded, with its problems (script errors, CSP violations). */
async function openChat(colorScheme: 'light' | 'dark'): Promise<{ page: Page; problems: string[] }> {
  const opened = await openStudioPage(studio, { colorScheme, viewport })
  await opened.page.getByTestId('model-loaded').waitFor()
  await opened.page.getByTestId('nav-chat').click()
  await opened.page.getByTestId('chat-screen').waitFor()
  return opened
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
  expect(existsSync(organism), `missing ${organism}`).toBe(true)
  const work = mkdtempSync(join(tmpdir(), 'tiller-e2e-chat-'))
  // A scratch copy, so the steered graph is compiled beside it and the committed folder stays clean.
  const model = join(work, 'organism')
  cpSync(organism, model, { recursive: true })
  workspace = join(work, 'workspace')
  studio = await startStudio({ model, workspace })
})

afterAll(async () => {
  await studio?.close()
})

describe('chat in browser mode', () => {
  test('fit from the chat, send, see base and steered differ, reload and find the conversation', async () => {
    const { page: light, problems } = await openChat('light')
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
    await light.getByTestId('chat-screen').screenshot({ path: join(screenshotFolder, 'chat-light.png') })

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
    const { page: dark, problems: darkProblems } = await openChat('dark')
    await expect.poll(() => dark.getByTestId('chat-turn').count()).toBe(2)
    expect(await replies(dark)).toEqual(both)
    expect(await dark.getByTestId('conversation-entry').count()).toBe(1)
    expect(await dark.getByTestId('conversation-title').textContent()).toBe(message)
    await dark.getByTestId('chat-screen').screenshot({ path: join(screenshotFolder, 'chat-dark.png') })
    expect([...problems, ...darkProblems]).toEqual([])
  })
})
