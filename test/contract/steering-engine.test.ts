import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { parseDemonstrations } from '../../src/main/core/data/jsonl.ts'
import { contrastPairs } from '../../src/main/core/data/pairs.ts'
import { renderPairs } from '../../src/main/core/data/render.ts'
import { loadRenderTokenizer } from '../../src/main/core/data/tokenizer.ts'
import { readEditFile } from '../../src/main/core/edits/edit-file.ts'
import { createEngine, createRealRuntime, type Engine } from '../../src/main/core/engine.ts'
import { createClient, type TillerClient } from '../../src/shared/contract-client.ts'
import { bridgeOverPort, createPortPair, serveContract } from '../../src/shared/contract-port.ts'
import type { EventPayload } from '../../src/shared/contract.ts'
import type { JobDone, JobProgress } from '../../src/shared/jobs.ts'
import { referenceTrace } from '../helpers/reference-llama.ts'
import { buildTinyModel, tinyCheckpoint, tinyConfig } from '../helpers/tiny-models.ts'

/**
 * The steering studio's requests over the real runtime, through an in-memory port pair as the renderer reaches
 * them: fit a mean difference on a tiny exported model (checked against the plain Float32Array forward pass),
 * then compare strengths 0 and 4 in one batch (row 0 must be the unsteered greedy generation exactly).
 */

const rows = [
  {
    id: 'p1',
    prompt: 'Tell me about the sea.',
    positive: 'The sea is calm and bright.',
    negative: 'The sea is grey and cruel.',
  },
  {
    id: 'p2',
    prompt: 'How was the trip?',
    positive: 'Wonderful, we laughed a lot.',
    negative: 'Awful, we argued all day.',
  },
  {
    id: 'p3',
    prompt: 'Describe the garden.',
    positive: 'Green, sunny and full of birds.',
    negative: 'Dry, dusty and silent.',
  },
  {
    id: 'p4',
    prompt: 'What about the food?',
    positive: 'Fresh and delicious.',
    negative: 'Stale and bitter.',
  },
  { id: 'held', prompt: 'And the music?', positive: 'Joyful.', negative: 'Dreary.', split: 'test' },
]
const prompt = 'The weather today'
const maxTokens = 16

let engine: Engine
let client: TillerClient
let folder: string
let work: string
let data: string

function doneOf(id: string): Promise<JobDone> {
  return new Promise((resolve) => {
    const stop = client.on('job:done', (event) => {
      if (event.id !== id) return
      stop()
      resolve(event)
    })
  })
}

beforeAll(async () => {
  folder = await buildTinyModel({ family: 'builder' })
  work = mkdtempSync(join(tmpdir(), 'tiller-steering-engine-'))
  data = join(work, 'contrast.jsonl')
  writeFileSync(data, rows.map((row) => JSON.stringify(row)).join('\n') + '\n')
  engine = createEngine({ runtime: await createRealRuntime(), provider: 'cpu', datasetsDirectory: null })
  const [serverPort, clientPort] = createPortPair()
  serveContract(engine, serverPort)
  client = createClient(bridgeOverPort(clientPort))
  const loaded = await doneOf((await client['model:load']({ path: folder })).id)
  expect(loaded.outcome).toBe('succeeded')
})

afterAll(async () => {
  await engine?.dispose()
})

describe('steering over the real runtime', () => {
  let editId = ''
  let steeredText = ''

  test('edit:fit renders, captures and fits a mean difference equal to the reference forward pass', async () => {
    const progress: JobProgress[] = []
    const stop = client.on('job:progress', (event) => progress.push(event))
    const started = await client['edit:fit']({ dataset: data, method: 'mean-diff' })
    expect(started.kind).toBe('fit')
    const done = await doneOf(started.id)
    stop()
    if (done.outcome !== 'succeeded' || done.kind !== 'fit')
      throw new Error(`fit ended ${JSON.stringify(done)}`)
    editId = done.result.editId
    expect(done.result.summary).toMatchObject({
      method: 'mean-diff',
      site: 'resid_post',
      selector: 'completionMean',
      layers: [1],
      interventions: 1,
      pairs: 4,
      dataset: { source: data, size: 5 },
    })
    const fractions = progress.filter((event) => event.id === started.id).map((event) => event.fraction ?? 0)
    expect(fractions.length).toBeGreaterThanOrEqual(4)
    expect(fractions).toEqual([...fractions].sort((first, second) => first - second))
    expect(progress.map((event) => event.message)).toContainEqual(
      expect.stringMatching(/^Captured 4 of 4 pairs/),
    )

    // The saved edit's vector against the plain forward pass: mean over completion tokens of resid_post[1].
    const path = join(work, 'mean-diff.safetensors')
    await client['edit:save']({ id: editId, path })
    const { edit, manifest } = await readEditFile(path)
    expect(manifest.chatTemplate?.kind).toBe('chat-template')
    const op = edit.interventions[0]?.op
    if (op?.kind !== 'add') throw new Error('expected an add op')
    const set = parseDemonstrations(readFileSync(data), data).set
    const rendered = renderPairs(contrastPairs(set, 'train'), await loadRenderTokenizer(folder), data, {})
    const checkpoint = tinyCheckpoint({})
    const width = tinyConfig.hiddenSize
    const expected = new Float64Array(width)
    for (const example of rendered.examples) {
      for (const [sign, side] of [
        [1, example.positive],
        [-1, example.negative],
      ] as const) {
        const residPost = referenceTrace(checkpoint, side.tokenIds).layers[1]!.residPost
        const { start, end } = side.completion
        for (let token = start; token < end; token++) {
          for (let column = 0; column < width; column++) {
            expected[column]! +=
              (sign * residPost[token * width + column]!) / (end - start) / rendered.examples.length
          }
        }
      }
    }
    const scale = Math.max(...expected.map(Math.abs))
    expect(scale).toBeGreaterThan(0)
    for (let column = 0; column < width; column++) {
      expect(Math.abs(op.vector[column]! - expected[column]!)).toBeLessThan(1e-4 * scale)
    }
  })

  test('chat:compare at strengths [0, 4]: row 0 is the unsteered greedy generation exactly, row 1 differs', async () => {
    const options = { maxTokens, temperature: 0 }
    const baseStarted = await client['generate:start']({ prompt, options })
    const base = await doneOf(baseStarted.id)
    if (base.outcome !== 'succeeded' || base.kind !== 'generate') throw new Error('base generation failed')
    expect(base.result.generatedTokens).toBeGreaterThan(0)

    const tokens: EventPayload<'compare:token'>[] = []
    const stop = client.on('compare:token', (token) => tokens.push(token))
    const started = await client['chat:compare']({ prompt, editId, strengths: [0, 4], options })
    const done = await doneOf(started.id)
    stop()
    if (done.outcome !== 'succeeded' || done.kind !== 'compare')
      throw new Error(`compare ended ${JSON.stringify(done)}`)
    const [row0, row1] = done.result.rows
    expect(row0?.strength).toBe(0)
    expect(row0?.text).toBe(base.result.text)
    expect(row0?.generatedTokens).toBe(base.result.generatedTokens)
    expect(row1?.strength).toBe(4)
    expect(row1?.text).not.toBe(base.result.text)
    steeredText = row1?.text ?? ''
    for (const [row, result] of done.result.rows.entries()) {
      const streamed = tokens.filter((token) => token.job === started.id && token.row === row)
      expect(streamed.map((token) => token.text).join('')).toBe(result.text)
    }
  })

  test('a saved edit loads back as the same edit and compares the same; export writes its direction', async () => {
    const path = join(work, 'mean-diff.safetensors')
    const reloaded = await client['edit:load']({ path })
    expect([reloaded.id, reloaded.origin, reloaded.matchesModel]).toEqual([editId, 'file', true])
    const started = await client['chat:compare']({
      prompt,
      editId,
      strengths: [0, 4],
      options: { maxTokens, temperature: 0 },
    })
    const again = await doneOf(started.id)
    if (again.outcome !== 'succeeded' || again.kind !== 'compare') throw new Error('compare failed')
    expect(again.result.rows[1]?.text).toBe(steeredText)
    const gguf = join(work, 'mean-diff.gguf')
    const exported = await client['edit:export-gguf']({ id: editId, path: gguf })
    expect(exported).toEqual({ path: gguf, bytes: readFileSync(gguf).length })
    const vector = await client['edit:load']({ path: gguf })
    expect(vector.layers).toEqual([1])
  })

  test('directional ablation fits through the same job, and its export is refused with the reason', async () => {
    const started = await client['edit:fit']({ dataset: data, method: 'ablation', options: { layers: [1] } })
    const done = await doneOf(started.id)
    if (done.outcome !== 'succeeded' || done.kind !== 'fit')
      throw new Error(`fit ended ${JSON.stringify(done)}`)
    expect(done.result.summary.interventions).toBe(tinyConfig.numLayers * 3)
    const refused = await client['edit:export-gguf']({
      id: done.result.editId,
      path: join(work, 'a.gguf'),
    }).then(
      () => null,
      (error: Error) => error.message,
    )
    expect(refused).toMatch(/llama\.cpp only adds vectors, this is project/)
  })
})
