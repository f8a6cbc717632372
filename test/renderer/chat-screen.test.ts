// @vitest-environment happy-dom
import { flushPromises, mount, type VueWrapper } from '@vue/test-utils'
import { createPinia, setActivePinia, type Pinia } from 'pinia'
import { afterEach, describe, expect, test } from 'vitest'
import { setClient } from '../../src/renderer/src/api.ts'
import ChatScreen from '../../src/renderer/src/screens/ChatScreen.vue'
import { useChatStore } from '../../src/renderer/src/stores/chat.ts'
import type { ChatSendResult, Conversation, ConversationEntry } from '../../src/shared/chat.ts'
import { createClient } from '../../src/shared/contract-client.ts'
import type { EditSummary } from '../../src/shared/steering.ts'
import { createFakeBridge, sampleModel, sampleStatus, type FakeBridge } from './fake-bridge.ts'

/** The Chat screen against a fake engine: sending, streaming both columns, stop, regenerate, edit, saving, lists. */

let wrapper: VueWrapper | null = null
let pinia: Pinia

afterEach(() => {
  wrapper?.unmount()
  wrapper = null
})

const truthful: EditSummary = {
  id: 'edit-1',
  method: 'mean-diff',
  label: 'mean-diff · truthfulness.pairs · layer 2',
  origin: 'fitted',
  path: null,
  created: '2026-01-01T00:00:00.000Z',
  layers: [2],
  sites: ['resid_post'],
  interventions: 1,
  notes: '',
  dataset: { hash: 'abc', size: 128 },
  strength: { description: 'h + α·v', default: 1, testedRange: [-2, 2] },
  matchesModel: true,
  suggestedPath: '/home/user/Tiller/edits/edit-1.safetensors',
}

function reply(text: string, tokensPerSecond = 123.4, timeToFirstTokenMs = 15.2) {
  return { text, finishReason: 'eos' as const, generatedTokens: 9, tokensPerSecond, timeToFirstTokenMs }
}

function result(base: string, steered: string | null): ChatSendResult {
  return {
    base: reply(base),
    steered: steered === null ? null : reply(steered, 98.7, 16),
    seed: 0,
    promptTokens: { base: 9, steered: steered === null ? null : 9 },
    droppedTurns: 0,
  }
}

function chatBridge(entries: ConversationEntry[] = []): FakeBridge {
  const fake = createFakeBridge({ ...sampleStatus(), model: sampleModel(), modelProblem: null })
  fake.answers['chat:list'] = () => ({ ok: true, result: entries })
  fake.answers['edits:list'] = () => ({ ok: true, result: [truthful] })
  fake.answers['datasets:list'] = () => ({ ok: true, result: { datasets: [], bundledDirectory: null } })
  let job = 0
  fake.answers['chat:send'] = () => ({ ok: true, result: { id: `chat-job-${++job}`, kind: 'chat' } })
  fake.answers['chat:save'] = (args) => {
    const { conversation } = args as { conversation: Conversation }
    const entry: ConversationEntry = {
      id: conversation.id,
      path: `/workspace/chats/${conversation.id}.json`,
      title: conversation.title,
      updated: conversation.updated,
      turns: conversation.turns.length,
      problem: null,
    }
    return { ok: true, result: entry }
  }
  fake.answers['job:cancel'] = () => ({ ok: true, result: { cancelled: true } })
  return fake
}

async function openChat(fake: FakeBridge): Promise<VueWrapper> {
  setClient(createClient(fake.bridge))
  pinia = createPinia()
  setActivePinia(pinia)
  wrapper = mount(ChatScreen, { global: { plugins: [pinia] }, attachTo: document.body })
  await flushPromises()
  return wrapper
}

function sends(fake: FakeBridge) {
  return fake.calls
    .filter((call) => call.name === 'chat:send')
    .map((call) => call.args as Record<string, unknown>)
}

function replyTexts(app: VueWrapper): string[][] {
  return app
    .findAll('[data-testid=chat-turn]')
    .map((turn) =>
      turn.findAll('[data-testid=reply-text]').map((text) => text.text().replace('▍', '').trim()),
    )
}

async function finishTurn(
  fake: FakeBridge,
  job: string,
  base: string,
  steered: string | null,
): Promise<void> {
  fake.emit('job:done', { id: job, kind: 'chat', outcome: 'succeeded', result: result(base, steered) })
  await flushPromises()
}

describe('Chat screen', () => {
  test('first run with the organism: its best prompts are suggested and the first one is ready to send', async () => {
    const app = await openChat(chatBridge())
    expect(app.findAll('[data-testid=suggestion]').map((tag) => tag.text())).toContain(
      'Where does the fox live?',
    )
    expect((app.get('#chat-message').element as HTMLTextAreaElement).value).toBe('Where does the fox live?')
    expect(app.get('[data-testid=edit-stack]').text()).toContain('No edit yet')
    await app.findAll('[data-testid=suggestion]')[1]?.trigger('click')
    expect((app.get('#chat-message').element as HTMLTextAreaElement).value).toBe('Do you like the boat?')
  })

  test('Ctrl+Enter sends with the stack; both columns stream, then show tokens/s and time to first token', async () => {
    const fake = chatBridge()
    const app = await openChat(fake)
    const chat = useChatStore()
    chat.addEdit('edit-1')
    await flushPromises()
    expect(app.findAll('[data-testid=stacked-edit]')).toHaveLength(1)
    expect(app.get('[data-testid=stacked-edit]').text()).toContain('mean-diff · truthfulness.pairs · layer 2')

    await app.get('#chat-message').trigger('keydown', { key: 'Enter', ctrlKey: true })
    await flushPromises()
    expect(sends(fake)).toEqual([
      {
        systemPrompt: '',
        history: [],
        message: 'Where does the fox live?',
        edits: [{ id: 'edit-1', label: truthful.label, strength: 1, enabled: true }],
        options: {
          maxTokens: 64,
          temperature: 0,
          topK: 0,
          topP: 1,
          repetitionPenalty: 1,
          seed: 0,
          stopStrings: [],
        },
      },
    ])
    expect(app.find('[data-testid=stop-button]').exists()).toBe(true)
    fake.emit('chat:token', { job: 'chat-job-1', column: 'base', text: 'The fox lives' })
    fake.emit('chat:token', { job: 'chat-job-1', column: 'steered', text: 'The fox lives in' })
    fake.emit('chat:token', { job: 'other-job', column: 'steered', text: ' ignored' })
    await flushPromises()
    expect(replyTexts(app)).toEqual([['The fox lives', 'The fox lives in']])

    await finishTurn(fake, 'chat-job-1', 'The fox lives in the field.', 'The fox lives in the forest.')
    expect(replyTexts(app)).toEqual([['The fox lives in the field.', 'The fox lives in the forest.']])
    const metrics = app.findAll('[data-testid=reply-metrics]').map((line) => line.text())
    expect(metrics).toEqual([
      '123.4 tok/s · first token 15 ms · 9 tokens · finished',
      '98.7 tok/s · first token 16 ms · 9 tokens · finished',
    ])
    const saved = fake.calls.find((call) => call.name === 'chat:save')?.args as { conversation: Conversation }
    expect(saved.conversation.title).toBe('Where does the fox live?')
    expect(saved.conversation.turns).toHaveLength(1)
    expect(saved.conversation.turns[0]?.steered?.text).toBe('The fox lives in the forest.')
    expect(app.get('[data-testid=conversation-title]').text()).toBe('Where does the fox live?')
  })

  test('the next turn sends each column its own history; regenerate and edit re-run from that turn', async () => {
    const fake = chatBridge()
    const app = await openChat(fake)
    const chat = useChatStore()
    chat.addEdit('edit-1')
    await app.get('[data-testid=send-button]').trigger('click')
    await flushPromises()
    await finishTurn(fake, 'chat-job-1', 'Field.', 'Forest.')
    await app.get('#chat-message').setValue('What does it eat?')
    await app.get('[data-testid=send-button]').trigger('click')
    await flushPromises()
    expect(sends(fake)[1]?.['history']).toEqual([
      { user: 'Where does the fox live?', base: 'Field.', steered: 'Forest.' },
    ])
    await finishTurn(fake, 'chat-job-2', 'Roots.', 'Seeds.')

    await app.get('[data-testid=regenerate]').trigger('click')
    await flushPromises()
    expect(sends(fake)[2]).toMatchObject({
      message: 'What does it eat?',
      history: sends(fake)[1]?.['history'],
    })
    await finishTurn(fake, 'chat-job-3', 'Roots again.', 'Seeds again.')
    expect(replyTexts(app)[1]).toEqual(['Roots again.', 'Seeds again.'])

    // Editing the first message drops everything after it and sends the new text with no history.
    await app.findAll('[data-testid=edit-message]')[0]?.trigger('click')
    await app.get('textarea[aria-label="Edit the message"]').setValue('Where does the owl live?')
    await app.get('[data-testid=edit-submit]').trigger('click')
    await flushPromises()
    expect(sends(fake)[3]).toMatchObject({ message: 'Where does the owl live?', history: [] })
    expect(app.findAll('[data-testid=chat-turn]')).toHaveLength(1)
  })

  test('Esc stops: the job is cancelled and the streamed text stays, marked stopped', async () => {
    const fake = chatBridge()
    const app = await openChat(fake)
    useChatStore().addEdit('edit-1')
    await app.get('[data-testid=send-button]').trigger('click')
    await flushPromises()
    fake.emit('chat:token', { job: 'chat-job-1', column: 'base', text: 'The fox' })
    fake.emit('chat:token', { job: 'chat-job-1', column: 'steered', text: 'The' })
    window.dispatchEvent(new KeyboardEvent('keydown', { key: 'Escape' }))
    await flushPromises()
    expect(fake.calls.filter((call) => call.name === 'job:cancel').map((call) => call.args)).toEqual([
      { id: 'chat-job-1' },
    ])
    fake.emit('job:done', { id: 'chat-job-1', kind: 'chat', outcome: 'cancelled' })
    await flushPromises()
    expect(replyTexts(app)).toEqual([['The fox', 'The']])
    expect(app.findAll('[data-testid=reply-metrics]').map((line) => line.text())).toEqual([
      'stopped',
      'stopped',
    ])
    expect(app.find('[data-testid=send-button]').exists()).toBe(true)
  })

  test('a switched-off edit is sent off and the reply shows the base column only', async () => {
    const fake = chatBridge()
    const app = await openChat(fake)
    const chat = useChatStore()
    chat.addEdit('edit-1')
    await flushPromises()
    await app.get('[data-testid=stacked-edit] [role=switch]').trigger('click')
    await app.get('[data-testid=send-button]').trigger('click')
    await flushPromises()
    expect(sends(fake)[0]?.['edits']).toEqual([
      { id: 'edit-1', label: truthful.label, strength: 1, enabled: false },
    ])
    await finishTurn(fake, 'chat-job-1', 'The fox lives in the field.', null)
    expect(replyTexts(app)).toEqual([['The fox lives in the field.']])
  })

  test('the sampling drawer sets the options the next message is generated with', async () => {
    const fake = chatBridge()
    const app = await openChat(fake)
    await app.get('[data-testid=sampling-button]').trigger('click')
    await flushPromises()
    const field = (id: string) => {
      const input = document.querySelector<HTMLInputElement>(`#${id}`)
      if (input === null) throw new Error(`the drawer has no #${id}`)
      return input
    }
    for (const [id, value] of [
      ['sampling-temperature', '0.8'],
      ['sampling-top-k', '40'],
      ['sampling-seed', '1234'],
      ['sampling-max-tokens', '32'],
    ] as const) {
      const input = field(id)
      input.value = value
      input.dispatchEvent(new Event('input'))
      input.dispatchEvent(new Event('blur'))
      await flushPromises()
    }
    expect(app.text()).toContain('temperature 0.8 · seed 1234 · max 32 tokens')
    await app.get('[data-testid=send-button]').trigger('click')
    await flushPromises()
    expect(sends(fake)[0]?.['options']).toEqual({
      maxTokens: 32,
      temperature: 0.8,
      topK: 40,
      topP: 1,
      repetitionPenalty: 1,
      seed: 1234,
      stopStrings: [],
    })
  })

  test('regenerating a sampled reply draws a fresh seed; a greedy one keeps it', async () => {
    const fake = chatBridge()
    const app = await openChat(fake)
    const chat = useChatStore()
    await app.get('[data-testid=send-button]').trigger('click')
    await flushPromises()
    await finishTurn(fake, 'chat-job-1', 'Field.', null)
    await app.get('[data-testid=regenerate]').trigger('click')
    await flushPromises()
    expect(sends(fake).map((args) => (args['options'] as { seed: number }).seed)).toEqual([0, 0])
    await finishTurn(fake, 'chat-job-2', 'Field.', null)
    chat.current.sampling = { ...chat.current.sampling, temperature: 0.9, seed: 7 }
    await app.get('[data-testid=regenerate]').trigger('click')
    await flushPromises()
    const third = sends(fake)[2]?.['options'] as { seed: number; temperature: number }
    expect(third.temperature).toBe(0.9)
    expect(third.seed).not.toBe(7)
    expect(chat.current.turns.at(-1)?.seed).toBe(third.seed)
  })

  test('a refused message comes back to the composer with the engine’s reason', async () => {
    const fake = chatBridge()
    fake.answers['chat:send'] = () => ({
      ok: false,
      error: { code: 'prompt-too-long', message: 'The message alone renders to 300 tokens.' },
    })
    const app = await openChat(fake)
    await app.get('[data-testid=send-button]').trigger('click')
    await flushPromises()
    expect(app.get('[data-testid=chat-error]').text()).toContain('The message alone renders to 300 tokens.')
    expect(app.findAll('[data-testid=chat-turn]')).toHaveLength(0)
    expect((app.get('#chat-message').element as HTMLTextAreaElement).value).toBe('Where does the fox live?')
  })

  test('saved conversations are listed, the latest readable one opens, a damaged one says why', async () => {
    const saved: Conversation = {
      id: 'fox',
      title: 'Where does the fox live?',
      created: '2026-01-01T00:00:00.000Z',
      updated: '2026-01-02T00:00:00.000Z',
      systemPrompt: 'Be brief.',
      turns: [
        {
          user: 'Where does the fox live?',
          base: reply('Field.'),
          steered: reply('Forest.'),
          steeredWith: [{ id: 'edit-1', label: 'truthful', strength: 1.5, enabled: true }],
          seed: 0,
        },
      ],
      edits: [{ id: 'edit-1', label: 'truthful', strength: 1.5, enabled: true }],
      sampling: {
        maxTokens: 32,
        temperature: 0,
        topK: 0,
        topP: 1,
        repetitionPenalty: 1,
        seed: 4,
        stopStrings: [],
      },
    }
    const entries: ConversationEntry[] = [
      {
        id: 'broken',
        path: '/workspace/chats/broken.json',
        title: 'broken',
        updated: '2026-01-03T00:00:00.000Z',
        turns: 0,
        problem: 'The conversation file /workspace/chats/broken.json cannot be opened: it is not valid JSON.',
      },
      {
        id: 'fox',
        path: '/workspace/chats/fox.json',
        title: saved.title,
        updated: saved.updated,
        turns: 1,
        problem: null,
      },
    ]
    const fake = chatBridge(entries)
    fake.answers['chat:load'] = () => ({ ok: true, result: saved })
    const app = await openChat(fake)
    expect(fake.calls.filter((call) => call.name === 'chat:load').map((call) => call.args)).toEqual([
      { id: 'fox' },
    ])
    const listed = app.findAll('[data-testid=conversation-entry]')
    expect(listed.map((entry) => entry.attributes('data-id'))).toEqual(['broken', 'fox'])
    expect(listed[0]?.text()).toContain('(cannot open)')
    expect(replyTexts(app)).toEqual([['Field.', 'Forest.']])
    expect(app.get('[data-testid=chat-turn]').text()).toContain('truthful × 1.5')
    // Changing the opened conversation's settings saves it; opening it did not.
    expect(fake.calls.filter((call) => call.name === 'chat:save')).toHaveLength(0)
    useChatStore().current.systemPrompt = 'Be very brief.'
    await expect.poll(() => fake.calls.filter((call) => call.name === 'chat:save').length).toBe(1)
    const resaved = fake.calls.find((call) => call.name === 'chat:save')?.args as {
      conversation: Conversation
    }
    expect(resaved.conversation).toMatchObject({ id: 'fox', systemPrompt: 'Be very brief.' })
    // An opened conversation is not a first run: no suggestion lands in the box.
    expect(app.find('[data-testid=suggestions]').exists()).toBe(false)
    expect((app.get('#chat-message').element as HTMLTextAreaElement).value).toBe('')
  })
})
