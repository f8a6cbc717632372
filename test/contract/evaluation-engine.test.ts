import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { captureActivations } from '../../src/main/core/capture/capture.ts'
import { parseDemonstrations } from '../../src/main/core/data/jsonl.ts'
import { contrastPairs } from '../../src/main/core/data/pairs.ts'
import { renderPairs } from '../../src/main/core/data/render.ts'
import { loadRenderTokenizer } from '../../src/main/core/data/tokenizer.ts'
import { readEditFile } from '../../src/main/core/edits/edit-file.ts'
import { fingerprintModel } from '../../src/main/core/edits/fingerprint.ts'
import { loadSteeredModel } from '../../src/main/core/edits/steered-generation.ts'
import { createEngine, createRealRuntime, type Engine } from '../../src/main/core/engine.ts'
import { encodeChoiceRows, encodeTexts } from '../../src/main/core/eval/choice-encoding.ts'
import { readChoiceItems, readReferenceTexts } from '../../src/main/core/eval/evaluate-set.ts'
import {
  meanNormByLayer,
  probeAccuracyByLayer,
  separationByLayer,
} from '../../src/main/core/eval/layer-diagnostics.ts'
import { steeredChoiceScorer, steeredForward } from '../../src/main/core/eval/steered-scoring.ts'
import { sweepStrengths } from '../../src/main/core/eval/strength-sweep.ts'
import { defaultModelFolder } from '../../src/main/core/models/default-model.ts'
import { loadModel } from '../../src/main/core/runtime/model.ts'
import { createClient, type TillerClient } from '../../src/shared/contract-client.ts'
import { bridgeOverPort, createPortPair, serveContract } from '../../src/shared/contract-port.ts'
import type { EvaluationRun } from '../../src/shared/evaluation.ts'
import type { JobDone, JobResults } from '../../src/shared/jobs.ts'
import type { LayerDiagnosticsReport } from '../../src/shared/layer-diagnostics.ts'

/**
 * The Fit and Evaluate screens' jobs over the real runtime on the embedded organism, with few items so the file
 * stays fast: layer diagnostics must equal the layer-diagnostics library on the same capture, and an evaluation's
 * validation sweep, test numbers and side effects must equal sweeping the library directly with the same edit.
 */

const folder = defaultModelFolder()
const datasets = new URL('../../resources/datasets/', import.meta.url).pathname
const pairCount = 12
const itemLimit = 6
const strengths = [-4, 4]

let engine: Engine
let client: TillerClient
let work: string
let pairsFile: string
let itemsFile: string
let sideFile: string
let neutralFile: string
let runs: string

function doneOf(id: string): Promise<JobDone> {
  return new Promise((resolve) => {
    const stop = client.on('job:done', (event) => {
      if (event.id !== id) return
      stop()
      resolve(event)
    })
  })
}

async function resultOf<K extends keyof JobResults>(
  started: { id: string },
  kind: K,
): Promise<JobResults[K]> {
  const done = await doneOf(started.id)
  if (done.outcome !== 'succeeded' || done.kind !== kind) throw new Error(`job ended ${JSON.stringify(done)}`)
  return done.result as JobResults[K]
}

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'tiller-evaluation-engine-'))
  runs = join(work, 'runs')
  const lines = readFileSync(join(datasets, 'sentiment.pairs.jsonl'), 'utf8').trim().split('\n')
  pairsFile = join(work, 'sentiment.pairs.jsonl')
  writeFileSync(pairsFile, lines.slice(0, pairCount).join('\n') + '\n')
  // The item sets and neutral text side by side, as in resources/datasets.
  itemsFile = join(work, 'sentiment.mc.jsonl')
  sideFile = join(work, 'politeness.mc.jsonl')
  neutralFile = join(work, 'neutral.jsonl')
  copyFileSync(join(datasets, 'sentiment.mc.jsonl'), itemsFile)
  copyFileSync(join(datasets, 'politeness.mc.jsonl'), sideFile)
  copyFileSync(join(datasets, 'neutral.jsonl'), neutralFile)
  engine = createEngine({
    runtime: await createRealRuntime(),
    provider: 'cpu',
    datasetsDirectory: null,
    runsDirectory: runs,
  })
  const [serverPort, clientPort] = createPortPair()
  serveContract(engine, serverPort)
  client = createClient(bridgeOverPort(clientPort))
  const loaded = await doneOf((await client['model:load']({ path: folder })).id)
  expect(loaded.outcome).toBe('succeeded')
})

afterAll(async () => {
  await engine?.dispose()
  rmSync(work, { recursive: true, force: true })
})

describe('diagnostics and evaluation jobs on the organism', () => {
  let report: LayerDiagnosticsReport
  let editId = ''
  let run: EvaluationRun

  test('diagnostics:layers equals the layer-diagnostics library on the same capture', async () => {
    const started = await client['diagnostics:layers']({ dataset: pairsFile, method: 'mean-diff' })
    expect(started.kind).toBe('diagnostics')
    report = await resultOf(started, 'diagnostics')
    expect(report).toMatchObject({ site: 'resid_post', selector: 'completionMean', pairs: pairCount })
    expect(report.rows.map((row) => row.layer)).toEqual([0, 1, 2, 3, 4, 5])

    const model = await loadModel(folder, { provider: 'cpu' })
    try {
      const set = parseDemonstrations(readFileSync(pairsFile), pairsFile).set
      const rendered = renderPairs(
        contrastPairs(set, 'train'),
        await loadRenderTokenizer(folder),
        pairsFile,
        {
          contrast: 'completion',
        },
      )
      const activations = await captureActivations(model, rendered.examples, {
        site: 'resid_post',
        selector: 'completionMean',
        layers: [0, 1, 2, 3, 4, 5],
        cacheDirectory: false,
      })
      const accuracy = probeAccuracyByLayer(activations)
      const separation = separationByLayer(activations)
      const norms = meanNormByLayer(activations)
      report.rows.forEach((row, index) => {
        expect(row.probeAccuracy).toBe(accuracy[index]?.value)
        expect(row.separation).toBeCloseTo(separation[index]?.value as number, 3)
        expect(row.meanNorm).toBeCloseTo(norms[index]?.value as number, 3)
      })
    } finally {
      await model.dispose()
    }
    // The recommended layer has the best probe accuracy (within the tie tolerance).
    const best = Math.max(...report.rows.map((row) => row.probeAccuracy))
    const chosen = report.rows.find((row) => row.layer === report.recommendedLayer)
    expect(chosen?.probeAccuracy).toBeGreaterThanOrEqual(best - 0.02)
    expect(report.reason).toContain(`Layer ${report.recommendedLayer}`)
  })

  test('evaluation:run matches sweeping the library directly, and the run is saved and listed', async () => {
    const fit = await resultOf(
      await client['edit:fit']({
        dataset: pairsFile,
        method: 'mean-diff',
        options: { layers: [report.recommendedLayer] },
      }),
      'fit',
    )
    editId = fit.editId
    const started = await client['evaluation:run']({ editId, dataset: itemsFile, strengths, itemLimit })
    expect(started.kind).toBe('evaluate')
    run = await resultOf(started, 'evaluate')

    expect(run.validation.sweep.map((row) => row.strength)).toEqual([0, -4, 4])
    expect(run.validation).toMatchObject({ items: itemLimit, texts: itemLimit })
    expect(run.test).toMatchObject({ items: itemLimit, texts: itemLimit })
    expect(run.sideEffects.map((row) => row.dataset)).toEqual(['politeness.mc'])
    expect(run.chance.mc1).toBeCloseTo(0.5, 12)

    // The same sweep straight through the library, with the edit as saved by the engine.
    const editFile = join(work, 'edit.safetensors')
    await client['edit:save']({ id: editId, path: editFile })
    const { edit } = await readEditFile(editFile, await fingerprintModel(folder))
    const steered = await loadSteeredModel(folder, [edit], { provider: 'cpu' })
    try {
      const tokenizer = await loadRenderTokenizer(folder)
      const bos = steered.model.config.bosTokenId
      const items = async (path: string, split: 'validation' | 'test') =>
        encodeChoiceRows((await readChoiceItems(path, split)).slice(0, itemLimit), tokenizer)
      const texts = async (split: 'validation' | 'test') =>
        encodeTexts((await readReferenceTexts(neutralFile, split)).slice(0, itemLimit), tokenizer, bos)
      const sweep = async (path: string, split: 'validation' | 'test', grid: number[], withText: boolean) =>
        sweepStrengths({
          scorer: steeredChoiceScorer(steered),
          forward: steeredForward(steered),
          items: await items(path, split),
          texts: withText ? await texts(split) : [],
          strengths: grid,
          maxLength: steered.model.config.maxPositionEmbeddings,
        })
      const validation = await sweep(itemsFile, 'validation', [0, ...strengths], true)
      validation.forEach((point, index) => {
        const row = run.validation.sweep[index]
        expect(row?.mc1).toEqual(point.choices.mc1)
        expect(row?.mc2).toEqual(point.choices.mc2)
        expect(row?.perplexity).toBeCloseTo(point.fluency?.perplexity as number, 6)
        expect(row?.klFromBase).toBeCloseTo(point.klFromBase as number, 6)
      })
      // The chosen strength is the best fluent validation MC1 (0 when none is fluent).
      const base = validation[0]?.fluency?.perplexity as number
      const fluent = run.validation.sweep.filter(
        (row) => row.strength !== 0 && (row.perplexity as number) <= base * 1.1,
      )
      expect(run.validation.sweep.map((row) => row.fluent)).toEqual(
        validation.map((point) => (point.fluency?.perplexity as number) <= base * 1.1),
      )
      if (fluent.length === 0) expect(run.chosenStrength).toBe(0)
      else
        expect(Math.max(...fluent.map((row) => row.mc1.value))).toBe(
          run.validation.sweep.find((row) => row.strength === run.chosenStrength)?.mc1.value,
        )
      const reported = run.chosenStrength === 0 ? [0] : [0, run.chosenStrength]
      const test = await sweep(itemsFile, 'test', reported, true)
      expect(run.test.base.mc1).toEqual(test[0]?.choices.mc1)
      expect(run.test.edited.mc1).toEqual(test.at(-1)?.choices.mc1)
      expect(run.test.edited.perplexity).toBeCloseTo(test.at(-1)?.fluency?.perplexity as number, 6)
      expect(run.test.shift.falseToTrue).toBe(test.at(-1)?.shift.falseToTrue)
      expect(run.test.shift.trueToFalse).toBe(test.at(-1)?.shift.trueToFalse)
      const side = await sweep(sideFile, 'test', reported, false)
      expect(run.sideEffects[0]?.base).toEqual(side[0]?.choices.mc1)
      expect(run.sideEffects[0]?.edited).toEqual(side.at(-1)?.choices.mc1)
    } finally {
      await steered.model.dispose()
    }

    const listed = await client['evaluation:runs']({})
    expect(listed.problems).toEqual([])
    expect(listed.runs.map((entry) => entry.id)).toEqual([run.id])
    expect(listed.runs[0]).toEqual(run)
    expect(run.path.startsWith(runs)).toBe(true)
  })

  test('edit:set-strength makes the picked strength the edit default; bad input names the field', async () => {
    const summary = await client['edit:set-strength']({ id: editId, strength: 2.5 })
    expect(summary.strength.default).toBe(2.5)
    expect((await client['edits:list']({})).find((entry) => entry.id === editId)?.strength.default).toBe(2.5)
    await expect(client['evaluation:run']({ editId: 'nope', dataset: itemsFile })).rejects.toMatchObject({
      subject: 'id',
    })
    await expect(
      client['evaluation:run']({ editId, dataset: join(work, 'missing.mc.jsonl') }),
    ).rejects.toMatchObject({ code: 'file-not-found', subject: 'dataset' })
    await expect(client['diagnostics:layers']({ dataset: pairsFile, maxPairs: 2 })).rejects.toMatchObject({
      code: 'invalid-argument',
    })
  })

  test('diagnostics:layers with a held edit adds its norms and its cosines with the other held edits', async () => {
    // A second fit on the same pairs and layer: the same mean difference, so the cosine is 1.
    const second = await resultOf(
      await client['edit:fit']({
        dataset: pairsFile,
        method: 'mean-diff',
        options: { layers: [report.recommendedLayer] },
      }),
      'fit',
    )
    const atZero = await resultOf(
      await client['diagnostics:layers']({ dataset: pairsFile, edit: { id: editId, strength: 0 } }),
      'diagnostics',
    )
    for (const row of atZero.rows) expect(row.editedMeanNorm).toBe(row.meanNorm)
    expect(atZero.edited).toMatchObject({ editId, strength: 0, layers: [report.recommendedLayer] })
    expect(atZero.edited?.cosines.map((entry) => [entry.otherId, entry.layer])).toEqual([
      [second.editId, report.recommendedLayer],
    ])
    expect(atZero.edited?.cosines[0]?.cosine).toBeCloseTo(1, 6)

    const strong = await resultOf(
      await client['diagnostics:layers']({ dataset: pairsFile, edit: { id: editId, strength: 4 } }),
      'diagnostics',
    )
    const layer = strong.rows[report.recommendedLayer]
    expect(layer?.editedMeanNorm).not.toBeCloseTo(layer?.meanNorm as number, 2)
    await expect(
      client['diagnostics:layers']({ dataset: pairsFile, edit: { id: 'nope', strength: 1 } }),
    ).rejects.toMatchObject({ subject: 'id' })
  })
})
