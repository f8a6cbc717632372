import { cpSync, existsSync, mkdtempSync, readdirSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { readEditFile, writeEditFile } from '../../src/main/core/edits/edit-file.ts'
import { fingerprintModel } from '../../src/main/core/edits/fingerprint.ts'
import { createEngine, createRealRuntime, type Engine } from '../../src/main/core/engine.ts'
import { composeEdits } from '../../src/main/core/engine/edit-composition.ts'
import { createClient, type TillerClient } from '../../src/shared/contract-client.ts'
import { bridgeOverPort, createPortPair, serveContract } from '../../src/shared/contract-port.ts'
import type { Edit } from '../../src/shared/edit.ts'
import type { JobDone } from '../../src/shared/jobs.ts'
import { createFakeRuntime, fakeFingerprint } from './fake-runtime.ts'

/**
 * The Edits library across engine instances on one workspace folder: fitted edits are saved with their manifest
 * as they finish, a new engine lists them (and a chat stack naming one still works), rename and notes persist,
 * delete removes the files, compose sums scaled vectors, and export → import returns the same edit.
 */

const work = mkdtempSync(join(tmpdir(), 'tiller-edit-library-'))
// Each test its own library folder (the fake runtime names its fits fake-edit-1, fake-edit-2, …).
let library = join(work, 'edits')
const dataset = resolve('resources/datasets/sentiment.pairs.jsonl')
const engines: Engine[] = []

afterAll(async () => {
  for (const engine of engines) await engine.dispose()
})

function connect(): TillerClient {
  const engine = createEngine({
    runtime: createFakeRuntime().runtime,
    datasetsDirectory: null,
    editLibraryDirectory: library,
  })
  engines.push(engine)
  const [serverPort, clientPort] = createPortPair()
  serveContract(engine, serverPort)
  return createClient(bridgeOverPort(clientPort))
}

function doneOf(client: TillerClient, id: string): Promise<JobDone> {
  return new Promise((done) => {
    const stop = client.on('job:done', (event) => {
      if (event.id !== id) return
      stop()
      done(event)
    })
  })
}

async function run(client: TillerClient, started: Promise<{ id: string }>): Promise<JobDone> {
  const job = await started
  const done = await doneOf(client, job.id)
  expect(done.outcome, JSON.stringify(done)).toBe('succeeded')
  return done
}

async function withModel(): Promise<TillerClient> {
  const client = connect()
  await run(client, client['model:load']({ path: '/models/tiny' }))
  return client
}

function edit(vector: number[], kind: 'add' | 'project' = 'add'): Edit {
  const values = Float32Array.from(vector)
  return {
    version: 1,
    id: `edit-${kind}-${vector.join('-')}`,
    method: 'mean-diff',
    options: {},
    model: fakeFingerprint('/models/tiny'),
    interventions: [
      {
        layer: 1,
        site: 'resid_post',
        positions: { kind: 'all' },
        op:
          kind === 'add'
            ? { kind: 'add', vector: values }
            : { kind: 'project', basis: values, rank: 1, mode: 'remove' },
      },
    ],
    created: new Date(0).toISOString(),
    notes: '',
  }
}

describe('the edit library', () => {
  it('keeps fitted edits across engines; rename, notes and delete persist; a chat stack finds them', async () => {
    const first = await withModel()
    await run(first, first['edit:fit']({ dataset, method: 'mean-diff', options: { layers: [1] } }))
    const [fitted] = await first['library:list']({})
    expect(fitted).toMatchObject({
      method: 'mean-diff',
      datasetName: 'sentiment.pairs',
      controlVectorProblem: null,
    })
    expect(readdirSync(library).sort()).toEqual([`${fitted!.id}.json`, `${fitted!.id}.safetensors`])
    const manifest = (await readEditFile(join(library, `${fitted!.id}.safetensors`))).manifest
    expect(manifest.dataset?.size).toBeGreaterThan(0)

    await first['library:update']({ id: fitted!.id, name: 'Cheerful', notes: 'strength 4 reads well' })

    const second = await withModel()
    const [reloaded] = await second['library:list']({})
    expect(reloaded).toMatchObject({
      id: fitted!.id,
      name: 'Cheerful',
      notes: 'strength 4 reads well',
      layers: [1],
    })
    expect((await second['edits:list']({})).map((entry) => entry.id)).toEqual([fitted!.id])
    const reply = await run(
      second,
      second['chat:send']({
        message: 'Hello',
        edits: [{ id: fitted!.id, label: 'Cheerful', strength: 4, enabled: true }],
      }),
    )
    expect(JSON.stringify(reply.outcome === 'succeeded' ? reply.result : null)).toContain('steered [4]')

    expect(await second['library:delete']({ id: fitted!.id })).toEqual({ deleted: true })
    expect(readdirSync(library)).toEqual([])
    expect(await connect()['library:list']({})).toEqual([])
  })

  it('exports as a Tiller file and a control vector, and imports both back as the same vectors', async () => {
    library = join(work, 'exports')
    const client = await withModel()
    await run(client, client['edit:fit']({ dataset, method: 'mean-diff', options: { layers: [1] } }))
    const [fitted] = await client['library:list']({})
    const saved = await client['edit:save']({
      id: fitted!.id,
      path: join(work, 'out', 'cheerful.safetensors'),
    })
    const gguf = await client['edit:export-gguf']({
      id: fitted!.id,
      path: join(work, 'out', 'cheerful.gguf'),
    })
    await client['library:delete']({ id: fitted!.id })

    const fromFile = await client['library:import']({ path: saved.path })
    expect(fromFile).toMatchObject({ id: fitted!.id, layers: [1], origin: 'file' })
    const fromGguf = await client['library:import']({ path: gguf.path })
    expect(fromGguf.layers).toEqual([1])
    const original = (await readEditFile(saved.path)).edit
    const imported = (await readEditFile(join(library, `${fromGguf.id}.safetensors`))).edit
    const vector = (value: Edit) => [...(value.interventions[0]!.op as { vector: Float32Array }).vector]
    expect(vector(imported)).toEqual(vector(original))
    await expect(client['library:import']({ path: join(work, 'notes.txt') })).rejects.toThrow(/\.safetensors/)
  })

  it('composes edits of one model: add vectors scaled by their strengths, in order', async () => {
    const happy = edit([1, 2, 3])
    const polite = edit([0.5, -1, 0.25])
    const composed = composeEdits([
      { edit: happy, name: 'happy', strength: 2 },
      { edit: polite, name: 'polite', strength: -0.5 },
    ])
    const vectors = composed.interventions.map((entry) => [...(entry.op as { vector: Float32Array }).vector])
    expect(vectors).toEqual([
      [2, 4, 6],
      [-0.25, 0.5, -0.125],
    ])
    expect(composed.model).toEqual(happy.model)
    const other = { ...polite, model: fakeFingerprint('/models/other') }
    expect(() =>
      composeEdits([
        { edit: happy, name: 'happy', strength: 1 },
        { edit: other, name: 'other', strength: 1 },
      ]),
    ).toThrow(/fitted on another model/)
    expect(() =>
      composeEdits([
        { edit: happy, name: 'happy', strength: 1 },
        { edit: edit([1, 0, 0], 'project'), name: 'ablation', strength: 0.5 },
      ]),
    ).toThrow(/compose it at strength 1/)
  })

  it('composes through the engine into a persisted edit whose control vector sums the parts', async () => {
    library = join(work, 'composed')
    const client = await withModel()
    await run(client, client['edit:fit']({ dataset, method: 'mean-diff', options: { layers: [1] } }))
    await run(client, client['edit:fit']({ dataset, method: 'mean-diff', options: { layers: [1] } }))
    const [second, first] = await client['library:list']({})
    const composed = await client['library:compose']({
      name: 'both',
      parts: [
        { id: first!.id, strength: 1.5 },
        { id: second!.id, strength: -1 },
      ],
    })
    expect(composed).toMatchObject({
      name: 'both',
      layers: [1],
      interventions: 2,
      controlVectorProblem: null,
    })
    const stored = (await readEditFile(join(library, `${composed.id}.safetensors`))).edit
    const parts = await Promise.all(
      [first!, second!].map(
        async (entry) => (await readEditFile(join(library, `${entry.id}.safetensors`))).edit,
      ),
    )
    const vectorOf = (value: Edit, index = 0) =>
      (value.interventions[index]!.op as { vector: Float32Array }).vector
    expect([...vectorOf(stored, 0)]).toEqual(
      [...vectorOf(parts[0]!)].map((value) => Math.fround(value * 1.5)),
    )
    expect([...vectorOf(stored, 1)]).toEqual([...vectorOf(parts[1]!)].map((value) => -value))
    expect(existsSync(join(library, `${composed.id}.json`))).toBe(true)
  })
})

describe('steered ONNX folders', () => {
  it('exports an edit compiled into the model as a job, and imports the folder back', async () => {
    library = join(work, 'steered')
    const model = join(work, 'organism')
    cpSync(resolve('resources/models/organism'), model, { recursive: true })
    // The real runtime: the export compiles the edit into the organism's graph.
    const engine = createEngine({
      runtime: await createRealRuntime(),
      provider: 'cpu',
      datasetsDirectory: null,
      editLibraryDirectory: library,
    })
    engines.push(engine)
    const [serverPort, clientPort] = createPortPair()
    serveContract(engine, serverPort)
    const client = createClient(bridgeOverPort(clientPort))
    await run(client, client['model:load']({ path: model }))
    const vector = Array.from({ length: 224 }, (_, index) => Math.sin(index) / 4)
    const original: Edit = { ...edit(vector), id: 'steer-me', model: await fingerprintModel(model) }
    const file = join(work, 'steer-me.safetensors')
    await writeEditFile(file, original)
    await client['library:import']({ path: file })

    const out = join(work, 'steered-model')
    const done = await run(client, client['library:export-onnx']({ id: 'steer-me', path: out, strength: 2 }))
    expect(done.outcome === 'succeeded' ? done.result : null).toEqual({ path: out, strength: 2 })
    expect(existsSync(join(out, 'tiller-edit.json'))).toBe(true)

    await client['library:delete']({ id: 'steer-me' })
    const back = await client['library:import']({ path: out })
    expect(back).toMatchObject({ id: 'steer-me', layers: [1], matchesModel: true })
    const stored = (await readEditFile(join(library, 'steer-me.safetensors'))).edit
    const vectorOf = (value: Edit) => [...(value.interventions[0]!.op as { vector: Float32Array }).vector]
    expect(vectorOf(stored)).toEqual(vectorOf(original))
  })
})
