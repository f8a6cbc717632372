import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeAll, describe, expect, test } from 'vitest'
import { readEditFile } from '../../src/main/core/edits/edit-file.ts'
import { createEngine, type Engine } from '../../src/main/core/engine.ts'
import { ContractError, createClient, type TillerClient } from '../../src/shared/contract-client.ts'
import type { EventName } from '../../src/shared/contract-names.ts'
import { bridgeOverPort, createPortPair, serveContract } from '../../src/shared/contract-port.ts'
import type { EventPayload } from '../../src/shared/contract.ts'
import type { JobDone } from '../../src/shared/jobs.ts'
import { createFakeRuntime, fakeFingerprint } from './fake-runtime.ts'

/**
 * The steering requests over an in-memory port pair with the fake runtime: datasets, methods, the edit store
 * (save, load, export, model checks) and job plumbing of fits and comparisons. The real runtime's numbers are
 * checked in steering-engine.test.ts.
 */

const pairRows = [
  { id: 'a', prompt: 'How is the day?', positive: 'Lovely.', negative: 'Awful.' },
  { id: 'b', prompt: 'How is the tea?', positive: 'Warm and good.', negative: 'Cold and bad.' },
  { id: 'c', prompt: 'How is the cat?', positive: 'Happy.', negative: 'Grumpy.', split: 'test' },
]

let work: string
let bundled: string
let userFile: string
let engines: Engine[] = []

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'tiller-steering-contract-'))
  bundled = join(work, 'bundled')
  mkdirSync(bundled)
  writeFileSync(
    join(bundled, 'mood.pairs.jsonl'),
    pairRows.map((row) => JSON.stringify(row)).join('\n') + '\n',
  )
  writeFileSync(
    join(bundled, 'mood.mc.jsonl'),
    JSON.stringify({ id: 'q', question: 'Which?', choices: ['x', 'y'], correct: [1] }) + '\n',
  )
  writeFileSync(join(bundled, 'neutral.jsonl'), '{"id":"n1","text":"A quiet morning.","split":"test"}\n')
  writeFileSync(join(bundled, 'README.md'), 'not a dataset')
  userFile = join(work, 'user.jsonl')
  writeFileSync(
    userFile,
    [
      JSON.stringify(pairRows[0]),
      '{"id":"b","prompt":"p","positive":"","negative":"n"}',
      '',
      'not json',
      JSON.stringify(pairRows[1]),
    ].join('\n') + '\n',
  )
})

afterEach(async () => {
  await Promise.all(engines.map((engine) => engine.dispose()))
  engines = []
})

function connect() {
  const { runtime, record } = createFakeRuntime()
  const engine = createEngine({
    runtime,
    datasetsDirectory: bundled,
    editsDirectory: join(work, 'edits'),
    editLibraryDirectory: null,
  })
  engines.push(engine)
  const [serverPort, clientPort] = createPortPair()
  serveContract(engine, serverPort)
  return { client: createClient(bridgeOverPort(clientPort)), record }
}

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

async function refusal(promise: Promise<unknown>, code: string): Promise<ContractError> {
  const error = await promise.then(
    () => null,
    (thrown: unknown) => thrown,
  )
  expect(error).toBeInstanceOf(ContractError)
  expect((error as ContractError).code).toBe(code)
  return error as ContractError
}

async function loaded(client: TillerClient, path = '/models/tiny'): Promise<void> {
  const done = await doneOf(client, (await client['model:load']({ path })).id)
  expect(done.outcome).toBe('succeeded')
}

async function fitted(client: TillerClient, method: 'mean-diff' | 'caa' = 'mean-diff'): Promise<string> {
  const started = await client['edit:fit']({ dataset: join(bundled, 'mood.pairs.jsonl'), method })
  const done = await doneOf(client, started.id)
  if (done.outcome !== 'succeeded' || done.kind !== 'fit') throw new Error(`fit ended ${done.outcome}`)
  return done.result.editId
}

describe('datasets and methods', () => {
  test('datasets:list lists the bundled folder by kind and adds the user path with its issue count', async () => {
    const { client } = connect()
    const { datasets, bundledDirectory } = await client['datasets:list']({})
    expect(bundledDirectory).toBe(bundled)
    expect(
      datasets.map((entry) => [entry.name, entry.behaviour, entry.kind, entry.rows, entry.trainPairs]),
    ).toEqual([
      ['mood.mc', 'mood', 'choices', 1, 0],
      ['mood.pairs', 'mood', 'pairs', 3, 2],
      ['neutral', 'neutral', 'text', 1, 0],
    ])
    expect(datasets.every((entry) => entry.bundled && entry.issues === 0)).toBe(true)
    const withUser = await client['datasets:list']({ path: userFile })
    expect(withUser.datasets.at(-1)).toEqual({
      name: 'user',
      behaviour: 'user',
      path: userFile,
      kind: 'pairs',
      rows: 2,
      trainPairs: 2,
      issues: 2,
      bundled: false,
    })
    const missing = await refusal(
      client['datasets:list']({ path: join(work, 'nope.jsonl') }),
      'file-not-found',
    )
    expect(missing.message).toContain('nope.jsonl does not exist')
  })

  test('datasets:preview gives the first rows and every issue on its line', async () => {
    const { client } = connect()
    const preview = await client['datasets:preview']({ path: userFile, limit: 1 })
    expect(preview.rows).toEqual([
      {
        kind: 'pairs',
        line: 1,
        id: 'a',
        split: null,
        prompt: 'How is the day?',
        positive: 'Lovely.',
        negative: 'Awful.',
      },
    ])
    expect(preview.issues.map((issue) => [issue.line, issue.code])).toEqual([
      [2, 'empty-field'],
      [4, 'bad-json'],
    ])
    expect(preview.issues[0]?.message).toContain('"positive" is empty')
    const text = await client['datasets:preview']({ path: join(bundled, 'neutral.jsonl') })
    expect(text.entry.bundled).toBe(true)
    expect(text.rows).toEqual([{ kind: 'text', line: 1, id: 'n1', split: 'test', text: 'A quiet morning.' }])
    await refusal(client['datasets:preview']({ path: bundled }), 'invalid-dataset')
  })

  test('methods:list describes options as plain JSON and resolves default layers once a model is loaded', async () => {
    const { client } = connect()
    const before = await client['methods:list']({})
    expect(before.layerCount).toBeNull()
    const meanDiff = before.methods.find((method) => method.id === 'mean-diff')
    expect(meanDiff?.defaultLayers).toBeNull()
    expect(meanDiff?.site).toBe('resid_post')
    expect(meanDiff?.options).toEqual([
      expect.objectContaining({ name: 'layers', kind: 'layers', optional: true, default: null, minimum: 0 }),
      expect.objectContaining({
        name: 'selector',
        kind: 'choice',
        optional: false,
        default: 'completionMean',
        choices: ['completionMean', 'lastPrompt'],
      }),
    ])
    expect(before.methods.find((method) => method.id === 'actadd')?.options).toContainEqual(
      expect.objectContaining({ name: 'coefficient', kind: 'number', default: 5 }),
    )
    expect(before.methods.find((method) => method.id === 'ablation')?.options[0]?.maxItems).toBe(1)
    await loaded(client)
    const after = await client['methods:list']({})
    expect(after.layerCount).toBe(2)
    // mean-diff's default is CAA's layer 13 of 32, scaled to the depth: round(13/32 · 2) = 1.
    expect(after.methods.find((method) => method.id === 'mean-diff')?.defaultLayers).toEqual([1])
  })
})

describe('fitting and the edit store', () => {
  test('fit needs a model, a real method option, an existing layer and an existing file', async () => {
    const { client } = connect()
    const dataset = join(bundled, 'mood.pairs.jsonl')
    await refusal(client['edit:fit']({ dataset, method: 'mean-diff' }), 'model-not-loaded')
    await loaded(client)
    const option = await refusal(
      client['edit:fit']({ dataset, method: 'mean-diff', options: { strength: 2 } }),
      'invalid-argument',
    )
    expect(option.message).toContain('no option "strength"')
    const layer = await refusal(
      client['edit:fit']({ dataset, method: 'mean-diff', options: { layers: [7] } }),
      'invalid-argument',
    )
    expect([layer.subject, layer.message]).toEqual([
      'layers',
      expect.stringContaining('layer 7 does not exist'),
    ])
    await refusal(client['edit:fit']({ dataset: join(work, 'none.jsonl'), method: 'caa' }), 'file-not-found')
    const unknown = await refusal(
      client['edit:fit']({ dataset, method: 'repe' as 'sea' }),
      'invalid-argument',
    )
    expect(unknown.message).toContain('method')
  })

  test('a fit is a job with progress; its edit is listed, saved, loaded back and exported', async () => {
    const { client, record } = connect()
    await loaded(client)
    const progress = collectUntil(client, 'job:progress', (event) => event.fraction === 1)
    const editId = await fitted(client)
    expect((await progress).map((event) => event.fraction)).toEqual([0, 1])
    expect(record.fits).toEqual([join(bundled, 'mood.pairs.jsonl')])

    const [listed] = await client['edits:list']({})
    expect(listed).toMatchObject({
      id: editId,
      method: 'mean-diff',
      label: 'mean-diff · mood.pairs · layer 1',
      origin: 'fitted',
      path: null,
      layers: [1],
      sites: ['resid_post'],
      matchesModel: true,
      strength: { default: 1, testedRange: [-2, 2] },
    })
    expect(listed?.suggestedPath).toBe(
      join(work, 'edits', `mean-diff-mood.pairs-${editId.slice(0, 8)}.safetensors`),
    )

    const path = join(work, 'saved', 'mood.safetensors')
    const saved = await client['edit:save']({ id: editId, path })
    expect(saved.bytes).toBe(readFileSync(path).length)
    const file = await readEditFile(path, fakeFingerprint('/models/tiny'))
    expect(file.edit.id).toBe(editId)
    expect(file.manifest.dataset).toEqual({ hash: `hash of ${join(bundled, 'mood.pairs.jsonl')}`, size: 3 })
    expect(Array.from((file.edit.interventions[0]?.op as { vector: Float32Array }).vector)).toEqual(
      new Array(16).fill(3),
    )
    expect((await client['edits:list']({}))[0]?.path).toBe(path)
    await refusal(client['edit:save']({ id: editId, path: join(work, 'mood.json') }), 'invalid-argument')
    await refusal(client['edit:save']({ id: 'nope', path }), 'invalid-argument')

    const reloaded = await client['edit:load']({ path })
    expect([reloaded.id, reloaded.origin, reloaded.path, reloaded.matchesModel]).toEqual([
      editId,
      'file',
      path,
      true,
    ])
    expect(await client['edits:list']({})).toHaveLength(1)

    const gguf = join(work, 'mood.gguf')
    const exported = await client['edit:export-gguf']({ id: editId, path: gguf })
    expect(exported.bytes).toBe(readFileSync(gguf).length)
    const loadedVector = await client['edit:load']({ path: gguf })
    expect([loadedVector.layers, loadedVector.matchesModel]).toEqual([[1], true])
  })

  test('edits fitted on another model are flagged, refused for comparison and on load', async () => {
    const { client } = connect()
    await loaded(client, '/models/first')
    const editId = await fitted(client)
    const path = join(work, 'first.safetensors')
    await client['edit:save']({ id: editId, path })
    await loaded(client, '/models/second')
    expect((await client['edits:list']({}))[0]?.matchesModel).toBe(false)
    const compare = await refusal(
      client['chat:compare']({ prompt: 'Hi', editId, strengths: [0, 1] }),
      'model-mismatch',
    )
    expect(compare.message).toContain('tokenizerHash differs')
    const load = await refusal(client['edit:load']({ path }), 'model-mismatch')
    expect(load.message).toContain(path)
  })

  test('export refuses what llama.cpp cannot apply, with the reason', async () => {
    const { client } = connect()
    await loaded(client)
    const started = await client['edit:fit']({
      dataset: join(bundled, 'mood.pairs.jsonl'),
      method: 'mean-diff',
      options: { layers: [0] },
    })
    const done = await doneOf(client, started.id)
    if (done.outcome !== 'succeeded' || done.kind !== 'fit') throw new Error('fit failed')
    const path = join(work, 'layer0.gguf')
    const refused = await refusal(
      client['edit:export-gguf']({ id: done.result.editId, path }),
      'unrepresentable-edit',
    )
    expect(refused.message).toContain('llama.cpp never steers block 0')
    expect(existsSync(path)).toBe(false)
  })

  test('cancelling a fit ends it as cancelled and holds no edit', async () => {
    const { client } = connect()
    await loaded(client)
    const started = await client['edit:fit']({
      dataset: join(bundled, 'mood.pairs.jsonl'),
      method: 'pca-diff',
    })
    const done = doneOf(client, started.id)
    expect(await client['job:cancel']({ id: started.id })).toEqual({ cancelled: true })
    expect((await done).outcome).toBe('cancelled')
    expect(await client['edits:list']({})).toEqual([])
  })
})

describe('comparison', () => {
  test('streams compare:token per row; the rows add up to the result', async () => {
    const { client } = connect()
    await loaded(client)
    const editId = await fitted(client)
    const seen: EventPayload<'compare:token'>[] = []
    client.on('compare:token', (token) => seen.push(token))
    const started = await client['chat:compare']({ prompt: 'Hey', editId, strengths: [0, 2, -2] })
    expect(started.kind).toBe('compare')
    const done = await doneOf(client, started.id)
    if (done.outcome !== 'succeeded' || done.kind !== 'compare')
      throw new Error(`compare ended ${done.outcome}`)
    expect(done.result.editId).toBe(editId)
    expect(done.result.rows.map((row) => [row.strength, row.text])).toEqual([
      [0, '[0] Hey'],
      [2, '[2] Hey'],
      [-2, '[-2] Hey'],
    ])
    for (const [row, result] of done.result.rows.entries()) {
      const text = seen
        .filter((token) => token.row === row && token.job === started.id)
        .map((token) => token.text)
      expect(text.join('')).toBe(result.text)
    }
  })

  test('rows stream separately; a new comparison replaces the running one', async () => {
    const { client } = connect()
    await loaded(client)
    const editId = await fitted(client)
    const seen: EventPayload<'compare:token'>[] = []
    client.on('compare:token', (token) => seen.push(token))
    const first = await client['chat:compare']({ prompt: 'x'.repeat(400), editId, strengths: [0, 1] })
    const firstDone = doneOf(client, first.id)
    await collectUntil(client, 'compare:token', (token) => token.job === first.id)
    const second = await client['chat:compare']({ prompt: 'ok', editId, strengths: [0, 1] })
    expect((await firstDone).outcome).toBe('cancelled')
    const secondDone = await doneOf(client, second.id)
    expect(secondDone.outcome).toBe('succeeded')
    const rowText = (row: number) =>
      seen
        .filter((token) => token.job === second.id && token.row === row)
        .map((token) => token.text)
        .join('')
    expect([rowText(0), rowText(1)]).toEqual(['[0] ok', '[1] ok'])
  })

  test('loading another model stops a running comparison', async () => {
    const { client } = connect()
    await loaded(client, '/models/first')
    const editId = await fitted(client)
    const started = await client['chat:compare']({ prompt: 'y'.repeat(400), editId, strengths: [0, 1] })
    const done = doneOf(client, started.id)
    await collectUntil(client, 'compare:token', (token) => token.job === started.id)
    await client['model:load']({ path: '/models/second' })
    expect((await done).outcome).toBe('cancelled')
  })

  test('compare refuses an empty prompt, an unknown edit and bad strengths', async () => {
    const { client } = connect()
    await loaded(client)
    await refusal(client['chat:compare']({ prompt: '  ', editId: 'x', strengths: [0] }), 'empty-prompt')
    const unknown = await refusal(
      client['chat:compare']({ prompt: 'Hi', editId: 'x', strengths: [0] }),
      'invalid-argument',
    )
    expect(unknown.subject).toBe('editId')
    const none = await refusal(
      client['chat:compare']({ prompt: 'Hi', editId: 'x', strengths: [] }),
      'invalid-argument',
    )
    expect(none.subject).toBe('strengths')
  })
})
