import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { createEngine, type Engine } from '../../src/main/core/engine.ts'
import { renderPairs } from '../../src/main/core/data/render.ts'
import { loadRenderTokenizer } from '../../src/main/core/data/tokenizer.ts'
import { ContractError, createClient, type TillerClient } from '../../src/shared/contract-client.ts'
import { bridgeOverPort, createPortPair, serveContract } from '../../src/shared/contract-port.ts'
import type { DemonstrationRow } from '../../src/shared/demonstrations.ts'
import { createFakeRuntime } from './fake-runtime.ts'

/**
 * The Demonstrations screen's requests on a fresh workspace folder: save and reopen in a new engine, versions,
 * validation by the fit's validator, every import format, export and re-import, and a row rendered through a real
 * chat template (the organism's tokenizer) with the same spans the fit renders.
 */

const work = mkdtempSync(join(tmpdir(), 'tiller-demonstrations-'))
const datasets = join(work, 'datasets')
const organism = resolve('resources/models/organism')
const engines: Engine[] = []

afterAll(async () => {
  for (const engine of engines) await engine.dispose()
})

function connect(): TillerClient {
  const engine = createEngine({
    runtime: createFakeRuntime().runtime,
    datasetsDirectory: null,
    editLibraryDirectory: null,
    workspaceDatasetsDirectory: datasets,
  })
  engines.push(engine)
  const [serverPort, clientPort] = createPortPair()
  serveContract(engine, serverPort)
  return createClient(bridgeOverPort(clientPort))
}

function row(id: string, positive: string, negative: string, extra: Partial<DemonstrationRow> = {}) {
  return { id, prompt: `How was day ${id}?`, positive, negative, split: null, tags: [], ...extra }
}

function source(name: string, text: string): string {
  const path = join(work, name)
  writeFileSync(path, text)
  return path
}

describe('demonstration sets in the workspace', () => {
  it('saves a table, flags its bad row by line, keeps versions and reopens in a new engine', async () => {
    const client = connect()
    expect((await client['demonstrations:list']({})).datasets).toEqual([])
    const rows = [
      row('1', 'Lovely.', 'Dreadful.', { tags: ['short'] }),
      row('2', '', 'Awful.'),
      row('3', 'Great fun.', 'Boring.', { split: 'validation' }),
    ]
    const first = await client['demonstrations:save']({ name: 'moods', rows, create: true })
    expect(first.editable).toBe(true)
    expect(first.version).toBe(0)
    expect(first.issues.map((issue) => [issue.line, issue.code, issue.field])).toEqual([
      [2, 'empty-field', 'positive'],
    ])
    expect(await client['demonstrations:validate']({ rows })).toEqual(first.issues)
    await expect(client['demonstrations:save']({ name: 'moods', rows, create: true })).rejects.toThrow(
      /exists already/,
    )
    const fixed = rows.map((entry) => (entry.id === '2' ? { ...entry, positive: 'Fine.' } : entry))
    const second = await client['demonstrations:save']({ name: 'moods', rows: fixed })
    expect(second.issues).toEqual([])
    expect(second.version).toBe(1)
    expect(readdirSync(join(datasets, '.versions', 'moods'))).toEqual(['0001.jsonl'])

    const reopened = await connect()['demonstrations:open']({ name: 'moods' })
    expect(reopened.rows).toEqual(fixed)
    expect(reopened.entry).toMatchObject({ name: 'moods', kind: 'pairs', rows: 3, trainPairs: 2, issues: 0 })
    const listed = await connect()['demonstrations:list']({})
    expect(listed.datasets.map((entry) => entry.name)).toEqual(['moods'])
  })

  it('imports JSONL, CSV, TruthfulQA CSV, CAA JSON, two text files and pairs from MC items', async () => {
    const client = connect()
    const jsonl = source('broken.jsonl', '{"id":"a","prompt":"","positive":"x","negative":"y"}\nnot json\n')
    const fromJsonl = await client['demonstrations:import']({
      format: 'jsonl',
      paths: [jsonl],
      name: 'from-jsonl',
    })
    expect(fromJsonl.rows).toHaveLength(2)
    expect(fromJsonl.issues.map((issue) => [issue.line, issue.code])).toEqual([[2, 'bad-json']])

    const csv = source(
      'pairs.csv',
      'negative,prompt,positive,split,tags\n"Sad, grey",Hi,"He said ""yes""",test,a;b\nNo,,Yes,,\n',
    )
    const fromCsv = await client['demonstrations:import']({ format: 'csv', paths: [csv], name: 'from-csv' })
    expect(fromCsv.rows).toEqual([
      {
        id: 'row-1',
        prompt: 'Hi',
        positive: 'He said "yes"',
        negative: 'Sad, grey',
        split: 'test',
        tags: ['a', 'b'],
      },
      { id: 'row-2', prompt: '', positive: 'Yes', negative: 'No', split: null, tags: [] },
    ])

    const truthful = source(
      'tqa.csv',
      'Type,Category,Question,Best Answer,Correct Answers,Incorrect Answers,Source\n' +
        'Adversarial,Myths,Is the sky green?,No,No; It is blue,Yes; It is green,src\n',
    )
    const fromTruthful = await client['demonstrations:import']({
      format: 'truthfulqa',
      paths: [truthful],
      name: 'from-truthfulqa',
    })
    expect(fromTruthful.rows.map((entry) => [entry.positive, entry.negative])).toEqual([
      // The importer ends answers with a period, as TruthfulQA's own evaluation does.
      ['No.', 'Yes.'],
      ['No.', 'It is green.'],
    ])

    const caa = source(
      'caa.json',
      JSON.stringify([
        {
          question: 'Agree? (A) Yes (B) No',
          answer_matching_behavior: '(A)',
          answer_not_matching_behavior: '(B)',
        },
      ]),
    )
    const fromCaa = await client['demonstrations:import']({ format: 'caa', paths: [caa], name: 'from-caa' })
    expect(fromCaa.rows).toEqual([row('caa-1', '(A)', '(B)', { prompt: 'Agree? (A) Yes (B) No' })])

    const positives = source('positive.txt', 'I love it\n\nSo happy\n')
    const negatives = source('negative.txt', 'I hate it\n\nSo sad\n')
    await expect(
      client['demonstrations:import']({ format: 'plain-text', paths: [positives], name: 'from-text' }),
    ).rejects.toThrow(/two files/)
    const fromText = await client['demonstrations:import']({
      format: 'plain-text',
      paths: [positives, negatives],
      name: 'from-text',
    })
    expect(fromText.rows.map((entry) => [entry.prompt, entry.positive, entry.negative])).toEqual([
      ['', 'I love it', 'I hate it'],
      ['', 'So happy', 'So sad'],
    ])

    const items = source(
      'items.jsonl',
      JSON.stringify({ id: 'q1', question: 'Sky?', choices: ['blue', 'green', 'red'], correct: [0] }) + '\n',
    )
    const fromMc = await client['demonstrations:import']({
      format: 'pairs-from-mc',
      paths: [items],
      name: 'from-mc',
    })
    expect(fromMc.rows.map((entry) => [entry.prompt, entry.positive, entry.negative])).toEqual([
      ['Sky?', 'blue', 'green'],
      ['Sky?', 'blue', 'red'],
    ])
    await expect(
      client['demonstrations:import']({ format: 'caa', paths: [caa], name: 'from-caa' }),
    ).rejects.toBeInstanceOf(ContractError)
  })

  it('exports as JSONL and CSV, and the CSV imports back to the same rows', async () => {
    const client = connect()
    const rows = [row('x', 'Yes, "quoted"', 'No\nsecond line', { split: 'train', tags: ['t'] })]
    await client['demonstrations:save']({ name: 'exported', rows, create: true })
    const jsonl = await client['demonstrations:export']({
      name: 'exported',
      path: join(work, 'out', 'set.jsonl'),
    })
    expect(readFileSync(jsonl.path, 'utf8')).toBe(readFileSync(join(datasets, 'exported.jsonl'), 'utf8'))
    const csv = await client['demonstrations:export']({
      name: 'exported',
      path: join(work, 'out', 'set.csv'),
    })
    const back = await client['demonstrations:import']({
      format: 'csv',
      paths: [csv.path],
      name: 'exported-back',
    })
    expect(back.rows).toEqual(rows)
    await expect(
      client['demonstrations:export']({ name: 'exported', path: join(work, 'out', 'set.txt') }),
    ).rejects.toThrow(/\.jsonl or \.csv/)
  })

  it('renders a row through the loaded model’s chat template with the fit’s token spans', async () => {
    const client = connect()
    await expect(client['demonstrations:render']({ row: row('r', 'Yes', 'No') })).rejects.toThrow(
      /Load a model/,
    )
    const loaded = await client['model:load']({ path: organism })
    await new Promise<void>((done) => {
      const stop = client.on('job:done', (event) => {
        if (event.id !== loaded.id) return
        stop()
        done()
      })
    })
    const preview = await client['demonstrations:render']({ row: row('r', 'A sunny day.', 'A rainy day.') })
    const tokenizer = await loadRenderTokenizer(organism)
    const [example] = renderPairs(
      [
        {
          id: 'r',
          lines: [1],
          positive: { prompt: 'How was day r?', completion: 'A sunny day.' },
          negative: { prompt: 'How was day r?', completion: 'A rainy day.' },
        },
      ],
      tokenizer,
      'reference',
    ).examples
    expect(preview.format).toBe(tokenizer.chatTemplate === undefined ? 'plain' : 'chat-template')
    expect(preview.positive.text).toBe(example?.positive.text)
    expect(preview.positive.tokens.map((token) => token.id)).toEqual(example?.positive.tokenIds)
    const promptTokens = preview.positive.tokens.filter((token) => token.part === 'prompt').length
    expect(promptTokens).toBe(example?.positive.prompt.end)
    const completion = preview.negative.tokens.filter((token) => token.part === 'completion')
    expect(completion.map((token) => token.text).join('')).toContain('rainy')
  })
})

describe('workspace sets are offered for fitting', () => {
  it('datasets:list adds the workspace’s sets after the bundled ones', async () => {
    const client = connect()
    await client['demonstrations:save']({ name: 'offered', rows: [row('1', 'Yes.', 'No.')], create: true })
    const listed = await client['datasets:list']({})
    const offered = listed.datasets.find((entry) => entry.name === 'offered')
    expect(offered).toMatchObject({
      path: join(datasets, 'offered.jsonl'),
      kind: 'pairs',
      trainPairs: 1,
      bundled: false,
    })
  })
})
