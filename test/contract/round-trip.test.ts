import { readFileSync } from 'node:fs'
import { afterEach, describe, expect, test } from 'vitest'
import { createEngine, type Engine } from '../../src/main/core/engine.ts'
import { ContractError, createClient, type TillerClient } from '../../src/shared/contract-client.ts'
import type { EventName } from '../../src/shared/contract-names.ts'
import { bridgeOverPort, createPortPair, serveContract } from '../../src/shared/contract-port.ts'
import type { EventPayload } from '../../src/shared/contract.ts'
import type { JobDone } from '../../src/shared/jobs.ts'
import { createFakeRuntime, fakeModelInfo, fakeProviders } from './fake-runtime.ts'

const packageVersion = (
  JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
    version: string
  }
).version

let engines: Engine[] = []

afterEach(async () => {
  await Promise.all(engines.map((engine) => engine.dispose()))
  engines = []
})

/** An engine over the fake runtime, reached through an in-memory port pair as a renderer would. */
function connect(defaultFolder: string | null = null) {
  const { runtime, record } = createFakeRuntime(defaultFolder)
  const engine = createEngine({ runtime })
  engines.push(engine)
  const [serverPort, clientPort] = createPortPair()
  serveContract(engine, serverPort)
  const client = createClient(bridgeOverPort(clientPort))
  return { engine, client, record, clientPort }
}

/** Collect every payload of `name` until `until` returns true for one of them. */
function collectUntil<K extends EventName>(
  client: TillerClient,
  name: K,
  until: (payload: EventPayload<K>) => boolean,
): Promise<EventPayload<K>[]> {
  return new Promise((resolve) => {
    const seen: EventPayload<K>[] = []
    const stop = client.on(name, (payload) => {
      seen.push(payload)
      if (until(payload)) {
        stop()
        resolve(seen)
      }
    })
  })
}

function doneOf(client: TillerClient, id: string): Promise<JobDone> {
  return collectUntil(client, 'job:done', (done) => done.id === id).then((all) => all.at(-1) as JobDone)
}

async function expectContractError(promise: Promise<unknown>, code: string): Promise<ContractError> {
  const error = await promise.then(
    () => null,
    (thrown: unknown) => thrown,
  )
  expect(error).toBeInstanceOf(ContractError)
  expect((error as ContractError).code).toBe(code)
  return error as ContractError
}

describe('contract over an in-memory port pair', () => {
  test('engine:status reports versions, providers and that no model is loaded', async () => {
    const { client } = connect()
    const status = await client['engine:status']({})
    expect(status.tillerVersion).toBe(packageVersion)
    expect(status.onnxRuntimeVersion).toBe('0.0.0-fake')
    expect(status.providers).toEqual(fakeProviders)
    expect(status.model).toBeNull()
    expect(status.modelProblem).toMatch(/No model is loaded/)
    expect(status.platform).toBe(`${process.platform}-${process.arch}`)
  })

  test('arguments are parsed with the schema: bad fields are named, extra fields refused', async () => {
    const { client } = connect()
    const empty = await expectContractError(client['model:load']({ path: '  ' }), 'invalid-argument')
    expect(empty.subject).toBe('path')
    expect(empty.message).toMatch(/model folder/)
    const extra = { path: '/models/a', verbose: true } as unknown as { path: string }
    await expectContractError(client['model:load'](extra), 'invalid-argument')
    const tooMany = await expectContractError(
      client['generate:start']({ prompt: 'hi', options: { maxTokens: 0 } }),
      'invalid-argument',
    )
    expect(tooMany.subject).toBe('options.maxTokens')
  })

  test('unknown request names are refused by the server side', async () => {
    const [serverPort, clientPort] = createPortPair()
    const { runtime } = createFakeRuntime()
    const engine = createEngine({ runtime })
    engines.push(engine)
    serveContract(engine, serverPort)
    const answer = new Promise<unknown>((resolve) => clientPort.onMessage(resolve))
    clientPort.send({ kind: 'request', id: 7, name: 'subscribe', args: {} })
    expect(await answer).toEqual({
      kind: 'response',
      id: 7,
      outcome: { ok: false, error: { code: 'invalid-argument', message: 'Unknown request "subscribe".' } },
    })
  })

  test('model:load is a job: id first, then progress, model:changed and a done event with the info', async () => {
    const { client, record } = connect()
    const changes = collectUntil(client, 'model:changed', (state) => state.model !== null)
    const progress = collectUntil(client, 'job:progress', (event) => event.message.startsWith('Loading'))
    const started = await client['model:load']({ path: '/models/tiny' })
    expect(started.kind).toBe('model:load')
    const done = await doneOf(client, started.id)
    expect(done).toEqual({
      id: started.id,
      kind: 'model:load',
      outcome: 'succeeded',
      result: fakeModelInfo('/models/tiny'),
    })
    expect((await progress).every((event) => event.id === started.id)).toBe(true)
    const states = await changes
    expect(states[0]?.loading).toEqual({ jobId: started.id, path: '/models/tiny' })
    expect(states.at(-1)).toEqual({ model: fakeModelInfo('/models/tiny'), loading: null, problem: null })
    expect(await client['model:info']({})).toEqual(states.at(-1))
    expect(record.loads).toEqual(['/models/tiny'])
  })

  test('a failed load keeps the previous model and records why', async () => {
    const { client, record } = connect()
    await doneOf(client, (await client['model:load']({ path: '/models/first' })).id)
    const started = await client['model:load']({ path: '/models/missing' })
    const done = await doneOf(client, started.id)
    expect(done.outcome).toBe('failed')
    if (done.outcome !== 'failed') return
    expect(done.error.code).toBe('file-not-found')
    expect(done.error.subject).toBe('/models/missing')
    const status = await client['engine:status']({})
    expect(status.model?.path).toBe('/models/first')
    expect(status.modelProblem).toMatch(/Could not load \/models\/missing: .*does not exist/)
    expect(record.disposed).toEqual([])
  })

  test('loading a second model disposes the first', async () => {
    const { client, record } = connect()
    await doneOf(client, (await client['model:load']({ path: '/models/first' })).id)
    await doneOf(client, (await client['model:load']({ path: '/models/second' })).id)
    expect(record.disposed).toEqual(['/models/first'])
    expect((await client['model:info']({})).model?.path).toBe('/models/second')
  })

  test('generate:start streams tokens whose text adds up to the result', async () => {
    const { client } = connect()
    await doneOf(client, (await client['model:load']({ path: '/models/tiny' })).id)
    const tokens = collectUntil(client, 'generate:token', (token) => token.text === '!')
    const started = await client['generate:start']({ prompt: 'Hello, world!', options: { maxTokens: 64 } })
    const done = await doneOf(client, started.id)
    const streamed = await tokens
    expect(streamed.every((token) => token.jobId === started.id && token.row === 0)).toBe(true)
    expect(streamed.map((token) => token.text).join('')).toBe('Hello, world!')
    expect(streamed.map((token) => token.token)).toEqual([...'Hello, world!'].map((c) => c.codePointAt(0)))
    expect(done.outcome).toBe('succeeded')
    if (done.outcome === 'succeeded' && done.kind === 'generate') {
      expect(done.result.text).toBe('Hello, world!')
      expect(done.result.finishReason).toBe('eos')
    }
  })

  test('job:cancel stops a generation within a token; the partial result says it was cancelled', async () => {
    const { client } = connect()
    await doneOf(client, (await client['model:load']({ path: '/models/tiny' })).id)
    const prompt = 'x'.repeat(2000)
    const firstToken = collectUntil(client, 'generate:token', () => true)
    const started = await client['generate:start']({ prompt, options: { maxTokens: 2000 } })
    const done = doneOf(client, started.id)
    await firstToken
    expect(await client['job:list']({})).toEqual([
      expect.objectContaining({ id: started.id, kind: 'generate' }),
    ])
    expect(await client['job:cancel']({ id: started.id })).toEqual({ cancelled: true })
    const result = await done
    expect(result.outcome).toBe('succeeded')
    if (result.outcome === 'succeeded' && result.kind === 'generate') {
      expect(result.result.finishReason).toBe('cancelled')
      expect(result.result.text.length).toBeLessThan(prompt.length)
    }
    expect(await client['job:cancel']({ id: started.id })).toEqual({ cancelled: false })
    expect(await client['job:list']({})).toEqual([])
  })

  test('work that rejects after cancellation ends as cancelled', async () => {
    const { client } = connect()
    await doneOf(client, (await client['model:load']({ path: '/models/tiny' })).id)
    const firstToken = collectUntil(client, 'generate:token', () => true)
    const started = await client['generate:start']({ prompt: 'reject ' + 'y'.repeat(500) })
    const done = doneOf(client, started.id)
    await firstToken
    await client['job:cancel']({ id: started.id })
    expect(await done).toEqual({ id: started.id, kind: 'generate', outcome: 'cancelled' })
  })

  test('generation needs a model and a prompt', async () => {
    const { client } = connect()
    await expectContractError(client['generate:start']({ prompt: 'Hi' }), 'model-not-loaded')
    await doneOf(client, (await client['model:load']({ path: '/models/tiny' })).id)
    const empty = await expectContractError(client['generate:start']({ prompt: ' \n ' }), 'empty-prompt')
    expect(empty.subject).toBe('prompt')
  })

  test('a missing default model is reported as the reason no model is loaded', async () => {
    const { engine, client } = connect(null)
    expect(engine.loadDefaultModel()).toBeNull()
    expect((await client['model:info']({})).problem).toMatch(/resources\/models\/organism is missing/)
  })

  test('the default model loads as a job when present', async () => {
    const { engine, client } = connect('/models/organism')
    const started = engine.loadDefaultModel()
    expect(started).not.toBeNull()
    await doneOf(client, started?.id ?? '')
    expect((await client['engine:status']({})).model?.path).toBe('/models/organism')
  })

  test('closing the port fails pending requests and stops events', async () => {
    const { engine, client, clientPort } = connect()
    let events = 0
    client.on('model:changed', () => events++)
    const pending = client['engine:status']({})
    clientPort.close()
    await expectContractError(pending, 'disconnected')
    engine.loadDefaultModel()
    await new Promise((resolve) => setTimeout(resolve, 10))
    expect(events).toBe(0)
  })
})
