/**
 * `npm run bench -- methods`: every method of the registry on every behaviour of the embedded organism, selected
 * honestly and reported on held-out items.
 *
 * Per behaviour and method: fit on ≤ 64 training pairs at each layer of the grid; choose the layer and strength
 * on VALIDATION items (highest MC1 whose validation neutral perplexity rises ≤ 10 %; ties → the weaker strength,
 * then the earlier layer); report on TEST items only: MC1 (Wilson 95 %), MC2 (bootstrap 95 %), the shift table
 * against the base, test neutral perplexity and KL(base ‖ edited), and the largest MC1 change on the other three
 * behaviours' test items. Strengths run as rows of one batch through the steered graph (row 0 = the base).
 *
 * Options: --layers 1,5 --strengths 0.25,0.5,1,2 --pairs 64 --methods a,b --behaviours a,b --out FILE
 * (default docs/bench/methods.md). Prints the markdown table and writes it to --out.
 */
import { cp, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { parseArgs } from 'node:util'
import type { Edit } from '../../src/shared/edit.ts'
import { loadSteeredModel } from '../../src/main/core/edits/steered-generation.ts'
import { encodeChoiceItems } from '../../src/organism/evaluation.ts'
import { sweepStrengths, type SweepPoint } from '../../src/main/core/eval/strength-sweep.ts'
import {
  plainChoiceScorer,
  steeredChoiceScorer,
  steeredForward,
} from '../../src/main/core/eval/steered-scoring.ts'
import {
  fluencyAtStrengths,
  type EncodedText,
  type StrengthFluency,
} from '../../src/main/core/eval/fluency.ts'
import { summarizeChoices, type ChoiceSummary } from '../../src/main/core/eval/choice-summary.ts'
import { shiftTable } from '../../src/main/core/eval/shift-table.ts'
import type { EncodedChoiceItem } from '../../src/main/core/eval/choice-scorer.ts'
import { fitFromDemonstrations } from '../../src/main/core/fitting/fit-pipeline.ts'
import { methods } from '../../src/main/core/methods/index.ts'
import { defaultModelFolder } from '../../src/main/core/models/default-model.ts'
import { buildDatasets, type OrganismDatasets } from '../../src/organism/datasets.ts'
import { renderNarrative } from '../../src/organism/documents.ts'
import { readFolderTokenizer } from '../../src/organism/folder-tokenizer.ts'
import { organismSeed } from '../../src/organism/organism-paths.ts'
import { trainingPairSet } from '../../src/organism/steerability.ts'
import { behaviours, createWorld, type Behaviour } from '../../src/organism/world.ts'
import { loadModel, type LoadedModel } from '../../src/main/core/runtime/model.ts'
import { formatMethodTable, type MethodRow } from './support/method-table.ts'

const perplexityRise = 0.1

interface Grid {
  layers: number[]
  strengths: number[]
  pairs: number
}

interface EncodedSets {
  items: Record<Behaviour, Record<'validation' | 'test', EncodedChoiceItem[]>>
  neutral: Record<'validation' | 'test', EncodedText[]>
}

function log(message: string): void {
  process.stderr.write(`${message}\n`)
}

function encodeSets(datasets: OrganismDatasets, tokenizer: { encode(text: string): number[] }): EncodedSets {
  const items = {} as EncodedSets['items']
  for (const behaviour of behaviours) {
    const of = (split: 'validation' | 'test') =>
      encodeChoiceItems(
        tokenizer,
        datasets.multipleChoice[behaviour].filter((item) => item.split === split),
      )
    items[behaviour] = { validation: of('validation'), test: of('test') }
  }
  // The neutral texts as the organism was trained on them (begin and end tokens around the narrative).
  // The first 30 validation and 100 test texts keep the sweep short.
  const neutral = (split: 'validation' | 'test', count: number) =>
    datasets.neutral
      .filter((row) => row.split === split)
      .slice(0, count)
      .map((row) => ({ text: row.text, tokens: tokenizer.encode(renderNarrative(row.text)) }))
  return { items, neutral: { validation: neutral('validation', 30), test: neutral('test', 100) } }
}

/** Validation sweep of one fitted edit: MC1 of the target and neutral perplexity at every strength. */
async function validate(
  folder: string,
  edit: Edit,
  sets: EncodedSets,
  behaviour: Behaviour,
  strengths: number[],
): Promise<SweepPoint[]> {
  const steered = await loadSteeredModel(folder, [edit], { provider: 'cpu' })
  try {
    return await sweepStrengths({
      scorer: steeredChoiceScorer(steered),
      forward: steeredForward(steered),
      items: sets.items[behaviour].validation,
      texts: sets.neutral.validation,
      strengths,
    })
  } finally {
    await steered.model.dispose()
  }
}

/** The base model's test summaries per behaviour: strength 0 is the base exactly, so every method shares them. */
type BaseSummaries = Record<Behaviour, ChoiceSummary>

async function baseSummaries(model: LoadedModel, sets: EncodedSets): Promise<BaseSummaries> {
  const result = {} as BaseSummaries
  for (const behaviour of behaviours) {
    const items = sets.items[behaviour].test
    const scores = await plainChoiceScorer(model)(items, [0])
    result[behaviour] = summarizeChoices(
      items,
      scores.map((item) => item[0] ?? []),
    )
  }
  return result
}

/** Test numbers of the chosen edit at `strength`: every behaviour's test items, and the test neutral texts. */
async function test(
  folder: string,
  edit: Edit,
  sets: EncodedSets,
  strength: number,
): Promise<{ choices: BaseSummaries; neutral: StrengthFluency[] }> {
  const steered = await loadSteeredModel(folder, [edit], { provider: 'cpu' })
  try {
    const choices = {} as BaseSummaries
    for (const behaviour of behaviours) {
      const items = sets.items[behaviour].test
      const scores = await steeredChoiceScorer(steered)(items, [strength])
      choices[behaviour] = summarizeChoices(
        items,
        scores.map((item) => item[0] ?? []),
      )
    }
    const neutral = await fluencyAtStrengths(steeredForward(steered), sets.neutral.test, [0, strength])
    return { choices, neutral }
  } finally {
    await steered.model.dispose()
  }
}

interface Candidate {
  layer: number
  strength: number
  edit: Edit
  fitSeconds: number
  validationAccuracy: number
  unit: number
}

/** Whether every intervention adds a vector of norm 1. */
function isUnitDirection(edit: Edit): boolean {
  return edit.interventions.every((entry) => {
    if (entry.op.kind !== 'add') return false
    let total = 0
    for (const value of entry.op.vector) total += value * value
    return Math.abs(Math.sqrt(total) - 1) < 1e-3
  })
}

const meanDifferenceNorms = new Map<string, number>()

/** ‖mean difference‖ of the behaviour's training pairs at `layer` (the mean-diff method's vector), memoised. */
async function meanDifferenceNorm(
  model: LoadedModel,
  set: ReturnType<typeof trainingPairSet>,
  behaviour: Behaviour,
  layer: number,
): Promise<number> {
  const key = `${behaviour}:${layer}`
  const known = meanDifferenceNorms.get(key)
  if (known !== undefined) return known
  const { edit } = await fitFromDemonstrations({
    model,
    data: set,
    method: 'mean-diff',
    options: { layers: [layer] },
  })
  const op = edit.interventions[0]?.op
  let total = 0
  if (op?.kind === 'add') for (const value of op.vector) total += value * value
  meanDifferenceNorms.set(key, Math.sqrt(total))
  return Math.sqrt(total)
}

async function benchMethod(
  model: LoadedModel,
  base: BaseSummaries,
  datasets: OrganismDatasets,
  sets: EncodedSets,
  behaviour: Behaviour,
  methodId: string,
  grid: Grid,
): Promise<MethodRow> {
  const row: MethodRow = { behaviour, method: methodId }
  const set = trainingPairSet(behaviour, datasets, grid.pairs)
  let best: Candidate | undefined
  for (const layer of grid.layers) {
    let edit: Edit
    const started = performance.now()
    try {
      edit = (
        await fitFromDemonstrations({ model, data: set, method: methodId, options: { layers: [layer] } })
      ).edit
    } catch (error) {
      row.failure = (error as Error).message.split('\n')[0]
      return row
    }
    const fitSeconds = (performance.now() - started) / 1000
    // A unit-norm direction (repeng's PCA vectors) takes the mean difference's norm as its strength unit, so the
    // grid means the same displacement for every additive method.
    const unit = isUnitDirection(edit) ? await meanDifferenceNorm(model, set, behaviour, layer) : 1
    const points = await validate(
      model.folder,
      edit,
      sets,
      behaviour,
      grid.strengths.map((strength) => strength * unit),
    )
    const base = points[0] as SweepPoint
    const baseline = base.fluency?.perplexity ?? Number.NaN
    for (const point of points.slice(1)) {
      const perplexity = point.fluency?.perplexity ?? Number.POSITIVE_INFINITY
      if (perplexity > baseline * (1 + perplexityRise)) continue
      const accuracy = point.choices.mc1.value
      if (best === undefined || accuracy > best.validationAccuracy)
        best = { layer, strength: point.strength, edit, fitSeconds, validationAccuracy: accuracy, unit }
    }
    row.pairs = set.rows.length
  }
  if (best === undefined) {
    row.failure = `no layer and strength of the grid kept validation perplexity within +${100 * perplexityRise} %`
    return row
  }
  const measured = await test(model.folder, best.edit, sets, best.strength)
  let sideEffect = { behaviour: '', points: 0 }
  for (const other of behaviours.filter((name) => name !== behaviour)) {
    const change = 100 * (measured.choices[other].mc1.value - base[other].mc1.value)
    if (Math.abs(change) >= Math.abs(sideEffect.points)) sideEffect = { behaviour: other, points: change }
  }
  const [neutralBase, neutralEdited] = measured.neutral as [StrengthFluency, StrengthFluency]
  return {
    ...row,
    ...(best.unit === 1 ? {} : { unit: best.unit }),
    layer: best.layer,
    strength: best.strength,
    fitSeconds: best.fitSeconds,
    validationMc1: best.validationAccuracy,
    base: base[behaviour],
    edited: measured.choices[behaviour],
    shift: shiftTable(
      base[behaviour].items.map((item) => item.mc1),
      measured.choices[behaviour].items.map((item) => item.mc1),
    ),
    perplexity: [neutralBase.fluency.perplexity, neutralEdited.fluency.perplexity],
    kl: neutralEdited.klFromBase,
    sideEffect,
  }
}

function tableSettings(grid: Grid, sets: EncodedSets) {
  return {
    ...grid,
    perplexityRise,
    validationItems: sets.items[behaviours[0]].validation.length,
    testItems: sets.items[behaviours[0]].test.length,
    validationTexts: sets.neutral.validation.length,
    testTexts: sets.neutral.test.length,
  }
}

function list(value: string, what: string): string[] {
  const parts = value.split(',').map((part) => part.trim())
  if (parts.some((part) => part === '')) throw new Error(`--${what} has an empty entry`)
  return parts
}

export async function run(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      layers: { type: 'string', default: '1,5' },
      strengths: { type: 'string', default: '0.25,0.5,1,2' },
      pairs: { type: 'string', default: '64' },
      methods: { type: 'string' },
      behaviours: { type: 'string' },
      out: { type: 'string', default: 'docs/bench/methods.md' },
    },
  })
  const grid: Grid = {
    layers: list(values.layers, 'layers').map(Number),
    strengths: list(values.strengths, 'strengths').map(Number),
    pairs: Math.min(64, Number(values.pairs)),
  }
  const methodIds = values.methods === undefined ? Object.keys(methods) : list(values.methods, 'methods')
  const chosen = (
    values.behaviours === undefined ? [...behaviours] : list(values.behaviours, 'behaviours')
  ) as Behaviour[]
  const scratch = await mkdtemp(join(tmpdir(), 'tiller-bench-methods-'))
  const started = performance.now()
  try {
    // Steered graphs are compiled next to the weights: a scratch copy keeps the committed folder clean.
    const folder = join(scratch, 'organism')
    await cp(defaultModelFolder(), folder, { recursive: true })
    const model = await loadModel(folder, { provider: 'cpu' })
    const tokenizer = await readFolderTokenizer(folder)
    const datasets = buildDatasets(createWorld(organismSeed))
    const sets = encodeSets(datasets, tokenizer)
    const rows: MethodRow[] = []
    const out = resolve(values.out)
    await mkdir(dirname(out), { recursive: true })
    try {
      const base = await baseSummaries(model, sets)
      for (const behaviour of chosen) {
        for (const methodId of methodIds) {
          log(`${behaviour} · ${methodId}`)
          rows.push(await benchMethod(model, base, datasets, sets, behaviour, methodId, grid))
          // Rows so far, so an interrupted run keeps what it measured.
          await writeFile(`${out.replace(/\.md$/, '')}.partial.json`, JSON.stringify({ grid, rows }) + '\n')
          await writeFile(
            `${out.replace(/\.md$/, '')}.partial.md`,
            formatMethodTable(rows, {
              ...tableSettings(grid, sets),
              minutes: (performance.now() - started) / 60000,
            }),
          )
        }
      }
    } finally {
      await model.dispose()
    }
    const table = formatMethodTable(rows, {
      ...tableSettings(grid, sets),
      minutes: (performance.now() - started) / 60000,
    })
    process.stdout.write(table)
    await writeFile(out, table)
    await rm(`${out.replace(/\.md$/, '')}.partial.json`, { force: true })
    await rm(`${out.replace(/\.md$/, '')}.partial.md`, { force: true })
    // The rows with per-item scores, for re-analysis without rerunning.
    await writeFile(out.replace(/\.md$/, '') + '.json', JSON.stringify({ grid, rows }) + '\n')
    log(`written to ${out}`)
  } finally {
    await rm(scratch, { recursive: true, force: true })
  }
}
