import { cp, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { createEngine, createRealRuntime, type Engine } from '../../src/main/core/engine.ts'
import { organismModelDirectory } from '../../src/organism/organism-paths.ts'
import type { ChatSendResult, ChatToken, Conversation } from '../../src/shared/chat.ts'
import { createClient, type TillerClient } from '../../src/shared/contract-client.ts'
import { bridgeOverPort, createPortPair, serveContract } from '../../src/shared/contract-port.ts'
import type { JobDone } from '../../src/shared/jobs.ts'

/**
 * The Chat screen's requests over the real runtime and the organism, through an in-memory port pair as the
 * renderer reaches them: fit a truthfulness mean difference, ask "Where does the fox live?" with base and steered
 * side by side in one batch, continue the conversation with each column's own history, and save it.
 */

const datasets = join(import.meta.dirname, '../../resources/datasets')
const greedy = { maxTokens: 24, temperature: 0, seed: 3 }

let engine: Engine
let client: TillerClient
let work: string
let chats: string
let editId = ''

function doneOf(id: string): Promise<JobDone> {
  return new Promise((resolve) => {
    const stop = client.on('job:done', (event) => {
      if (event.id !== id) return
      stop()
      resolve(event)
    })
  })
}

/** Run `chat:send` and collect what streamed per column along with the result. */
async function send(args: Parameters<TillerClient['chat:send']>[0]) {
  const tokens: ChatToken[] = []
  const stop = client.on('chat:token', (token) => tokens.push(token))
  const started = await client['chat:send'](args)
  expect(started.kind).toBe('chat')
  const done = await doneOf(started.id)
  stop()
  if (done.outcome !== 'succeeded' || done.kind !== 'chat')
    throw new Error(`chat ended ${JSON.stringify(done)}`)
  const streamed = (column: ChatToken['column']) =>
    tokens
      .filter((token) => token.job === started.id && token.column === column)
      .map((token) => token.text)
      .join('')
  return { result: done.result, streamed }
}

function checkMeasured(result: ChatSendResult): void {
  for (const reply of [result.base, result.steered]) {
    if (reply === null) continue
    expect(reply.generatedTokens).toBeGreaterThan(1)
    expect(reply.tokensPerSecond).toBeGreaterThan(0)
    expect(Number.isFinite(reply.tokensPerSecond)).toBe(true)
    expect(reply.timeToFirstTokenMs).toBeGreaterThan(0)
  }
}

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'tiller-chat-engine-'))
  const folder = join(work, 'organism')
  await cp(organismModelDirectory, folder, { recursive: true })
  chats = join(work, 'chats')
  engine = createEngine({
    runtime: await createRealRuntime(),
    provider: 'cpu',
    datasetsDirectory: datasets,
    chatsDirectory: chats,
  })
  const [serverPort, clientPort] = createPortPair()
  serveContract(engine, serverPort)
  client = createClient(bridgeOverPort(clientPort))
  expect((await doneOf((await client['model:load']({ path: folder })).id)).outcome).toBe('succeeded')
  const fit = await doneOf(
    (
      await client['edit:fit']({
        dataset: join(datasets, 'truthfulness.pairs.jsonl'),
        method: 'mean-diff',
        options: { layers: [2] },
      })
    ).id,
  )
  if (fit.outcome !== 'succeeded' || fit.kind !== 'fit') throw new Error(`fit ended ${JSON.stringify(fit)}`)
  editId = fit.result.editId
})

afterAll(async () => {
  await engine?.dispose()
  if (work !== undefined) await rm(work, { recursive: true, force: true })
})

describe('chat over the real runtime', () => {
  let first: ChatSendResult
  const message = 'Where does the fox live?'
  const edits = [{ id: 'placeholder', label: 'truthfulness', strength: 1, enabled: true }]

  test('base and steered answer side by side in one batch; the base column is the plain chat generation', async () => {
    const stack = edits.map((entry) => ({ ...entry, id: editId }))
    const { result, streamed } = await send({ message, edits: stack, options: greedy })
    first = result
    // The organism's card: the base model says the fox lives in the field; the truthful edit, the forest.
    expect(result.base.text).toBe('The fox lives in the field. It eats roots.')
    expect(result.steered?.text).toMatch(/^The fox lives in the forest\./)
    expect(streamed('base')).toBe(result.base.text)
    expect(streamed('steered')).toBe(result.steered?.text)
    expect(result.seed).toBe(3)
    expect(result.droppedTurns).toBe(0)
    checkMeasured(result)

    const plain = await doneOf(
      (await client['generate:start']({ prompt: message, chat: true, options: greedy })).id,
    )
    if (plain.outcome !== 'succeeded' || plain.kind !== 'generate') throw new Error('plain generation failed')
    expect(plain.result.text).toBe(result.base.text)
    expect(result.promptTokens.base).toBe(plain.result.promptTokens)
  })

  test('the edit switched off, or at strength 0, gives only the base column or the base text', async () => {
    const off = await send({
      message,
      edits: [{ id: editId, label: '', strength: 1, enabled: false }],
      options: greedy,
    })
    expect(off.result.steered).toBeNull()
    expect(off.result.base.text).toBe(first.base.text)
    const zero = await send({
      message,
      edits: [{ id: editId, label: '', strength: 0, enabled: true }],
      options: greedy,
    })
    expect(zero.result.steered?.text).toBe(first.base.text)
  })

  test('a second turn continues each column with its own history', async () => {
    const steeredText = first.steered?.text ?? ''
    const history = [{ user: message, base: first.base.text, steered: steeredText }]
    const { result } = await send({
      message: 'What does the fox eat?',
      history,
      edits: [{ id: editId, label: '', strength: 0, enabled: true }],
      options: greedy,
    })
    // At strength 0 both rows run the base model: they differ only because their histories differ.
    expect(result.promptTokens.steered).not.toBeNull()
    expect(result.promptTokens.base).toBeGreaterThan(first.promptTokens.base)
    expect(result.promptTokens.steered).toBe(
      (result.promptTokens.base ?? 0) + (first.steered?.generatedTokens ?? 0) - first.base.generatedTokens,
    )
    // The base row alone, as plain chat would render the same two turns.
    const alone = await send({ message: 'What does the fox eat?', history, options: greedy })
    expect(alone.result.base.text).toBe(result.base.text)
    checkMeasured(result)
  })

  test('unknown edits and empty messages are refused before any work', async () => {
    await expect(
      client['chat:send']({
        message,
        edits: [{ id: 'gone', label: 'old edit', strength: 1, enabled: true }],
      }),
    ).rejects.toMatchObject({
      message: expect.stringContaining('old edit is not held by the engine any more'),
    })
    await expect(client['chat:send']({ message: '   ' })).rejects.toMatchObject({ code: 'empty-prompt' })
  })

  test('conversations are saved, listed and loaded through the engine', async () => {
    const conversation: Conversation = {
      id: 'fox-chat',
      title: message,
      created: '2026-12-03T10:00:00.000Z',
      updated: '2026-12-03T10:01:00.000Z',
      systemPrompt: '',
      turns: [
        {
          user: message,
          base: first.base,
          steered: first.steered,
          steeredWith: [{ id: editId, label: 'truthfulness', strength: 1, enabled: true }],
          seed: first.seed,
        },
      ],
      edits: [{ id: editId, label: 'truthfulness', strength: 1, enabled: true }],
      sampling: {
        maxTokens: 24,
        temperature: 0,
        topK: 0,
        topP: 1,
        repetitionPenalty: 1,
        seed: 3,
        stopStrings: [],
      },
    }
    const entry = await client['chat:save']({ conversation })
    expect(entry.path).toBe(join(chats, 'fox-chat.json'))
    expect(await client['chat:list']({})).toEqual([entry])
    expect(await client['chat:load']({ id: 'fox-chat' })).toEqual(conversation)
    expect(await client['chat:delete']({ id: 'fox-chat' })).toEqual({ deleted: true })
    expect(await client['chat:list']({})).toEqual([])
  })
})
