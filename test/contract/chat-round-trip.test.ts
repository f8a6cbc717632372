import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, test } from 'vitest'
import { createEngine, type Engine } from '../../src/main/core/engine.ts'
import { createClient, type TillerClient } from '../../src/shared/contract-client.ts'
import { bridgeOverPort, createPortPair, serveContract } from '../../src/shared/contract-port.ts'
import type { JobDone } from '../../src/shared/jobs.ts'
import { createFakeRuntime } from './fake-runtime.ts'

/**
 * The chat requests' plumbing over an in-memory port pair with the fake runtime: refusals before any work, one
 * reply at a time (a new one, or a comparison, replaces the running one), argument checks at the boundary and
 * chat files in the engine's folder. The real runtime's replies are checked in chat-engine.test.ts.
 */

let engines: Engine[] = []

afterEach(async () => {
  await Promise.all(engines.map((engine) => engine.dispose()))
  engines = []
})

async function connect(): Promise<{ client: TillerClient; chats: string; work: string }> {
  const work = mkdtempSync(join(tmpdir(), 'tiller-chat-contract-'))
  const chats = join(work, 'chats')
  const engine = createEngine({
    runtime: createFakeRuntime().runtime,
    datasetsDirectory: null,
    chatsDirectory: chats,
  })
  engines.push(engine)
  const [serverPort, clientPort] = createPortPair()
  serveContract(engine, serverPort)
  return { client: createClient(bridgeOverPort(clientPort)), chats, work }
}

function doneOf(client: TillerClient, id: string): Promise<JobDone> {
  return new Promise((resolve) => {
    const stop = client.on('job:done', (event) => {
      if (event.id !== id) return
      stop()
      resolve(event)
    })
  })
}

async function loaded(client: TillerClient): Promise<void> {
  const started = await client['model:load']({ path: '/models/fake' })
  expect((await doneOf(client, started.id)).outcome).toBe('succeeded')
}

async function fitted(client: TillerClient, work: string): Promise<string> {
  const data = join(work, 'pairs.jsonl')
  writeFileSync(data, '{"id":"a","prompt":"p","positive":"x","negative":"y"}\n')
  const done = await doneOf(client, (await client['edit:fit']({ dataset: data, method: 'mean-diff' })).id)
  if (done.outcome !== 'succeeded' || done.kind !== 'fit') throw new Error('the fake fit failed')
  return done.result.editId
}

describe('chat requests', () => {
  test('without a model, an empty message or a bad argument, nothing starts', async () => {
    const { client } = await connect()
    await expect(client['chat:send']({ message: 'Hello' })).rejects.toMatchObject({
      code: 'model-not-loaded',
    })
    await loaded(client)
    await expect(client['chat:send']({ message: ' \n' })).rejects.toMatchObject({ code: 'empty-prompt' })
    await expect(client['chat:send']({ message: 'Hi', options: { temperature: -1 } })).rejects.toMatchObject({
      code: 'invalid-argument',
    })
    await expect(client['chat:load']({ id: '../outside' })).rejects.toMatchObject({
      code: 'invalid-argument',
    })
    expect(await client['job:list']({})).toEqual([])
  })

  test('the stack reaches the runtime with switched-off edits at strength 0; all off is the base column alone', async () => {
    const { client, work } = await connect()
    await loaded(client)
    const editId = await fitted(client, work)
    const second = await fitted(client, work)
    const stack = [
      { id: editId, label: 'first', strength: 1.5, enabled: true },
      { id: second, label: 'second', strength: 3, enabled: false },
    ]
    const done = await doneOf(client, (await client['chat:send']({ message: 'Hi', edits: stack })).id)
    if (done.outcome !== 'succeeded' || done.kind !== 'chat') throw new Error('the reply failed')
    expect(done.result.base.text).toBe('base: Hi (turn 1)')
    expect(done.result.steered?.text).toBe('steered [1.5, 0]: Hi (turn 1)')
    const off = stack.map((entry) => ({ ...entry, enabled: false }))
    const alone = await doneOf(client, (await client['chat:send']({ message: 'Hi', edits: off })).id)
    if (alone.outcome !== 'succeeded' || alone.kind !== 'chat') throw new Error('the reply failed')
    expect(alone.result.steered).toBeNull()
  })

  test('a new reply or a comparison replaces the running reply', async () => {
    const { client, work } = await connect()
    await loaded(client)
    const editId = await fitted(client, work)
    const long = 'A long message that streams for a while. '.repeat(4)
    const first = await client['chat:send']({ message: long })
    const firstDone = doneOf(client, first.id)
    const second = await client['chat:send']({ message: long })
    const secondDone = doneOf(client, second.id)
    expect((await firstDone).outcome).toBe('cancelled')
    const compare = await client['chat:compare']({ prompt: 'Hi', editId, strengths: [0, 1] })
    const compareDone = doneOf(client, compare.id)
    expect((await secondDone).outcome).toBe('cancelled')
    expect((await compareDone).outcome).toBe('succeeded')
  })
})
