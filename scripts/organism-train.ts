/**
 * `npm run organism:train`: regenerate the organism's datasets, train the organism, export it to
 * resources/models/organism/, measure it through Tiller's runtime and write its model card. Deterministic for the
 * seed in organism-paths.ts (with the thread count in organism-config.ts).
 *
 * Options:
 *   --datasets-only   only rewrite resources/datasets/ (seconds)
 *   --evaluate-only   keep the exported model; re-measure it and rewrite the model card
 *   --card-only       only re-render the model card from the records beside the model (after editing its text)
 *   --steps N         train N steps instead of the configured number (for trials; the committed model uses the default)
 *   --training-seed N train with another seed for initial weights and document order (same world and datasets),
 *                     to see how much a result depends on the run
 *   --output DIR      export and measure in DIR instead of resources/models/organism/ (trials beside the committed model)
 *   --separation-weight W  weight of the separation term (0: none) instead of the configured one
 *   --separation-fixed-norms  hold the norms constant in the separation term's gradient
 */
import { cp, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { exportModelFolder } from '../src/main/core/models/exporter/index.ts'
import { runtimeForward } from '../src/main/core/eval/forward-logits.ts'
import { loadModel } from '../src/main/core/runtime/model.ts'
import { measureBaseModel } from '../src/organism/base-behaviour.ts'
import { buildDatasets, datasetFiles } from '../src/organism/datasets.ts'
import { contrastSpans, createDocumentStream } from '../src/organism/documents.ts'
import { measureNeutralPerplexity } from '../src/organism/evaluation.ts'
import { writeFileAtomic } from '../src/organism/files.ts'
import { readFolderTokenizer } from '../src/organism/folder-tokenizer.ts'
import { modelCardFile, renderFolderModelCard } from '../src/organism/model-card-folder.ts'
import { organismConfig, organismContextLength, organismTraining } from '../src/organism/organism-config.ts'
import { datasetsDirectory, organismModelDirectory, organismSeed } from '../src/organism/organism-paths.ts'
import {
  measureContextInfluence,
  measureDirectionOverlap,
  type Separation,
} from '../src/organism/separation.ts'
import { measureSteerability } from '../src/organism/steerability.ts'
import { buildTokenizerFiles, createWordTokenizer } from '../src/organism/tokenizer.ts'
import {
  evaluationRecordFile,
  trainingRecordFile,
  type EvaluationRecord,
  type TrainingRecord,
} from '../src/organism/training-record.ts'
import { createGraphForward } from '../src/organism/training/graph-forward.ts'
import { toCheckpoint } from '../src/organism/training/parameters.ts'
import { trainModel, type TrainingText } from '../src/organism/training/trainer.ts'
import { organismVocabulary } from '../src/organism/vocabulary.ts'
import { behaviours, createWorld, worldGeneratorVersion, type World } from '../src/organism/world.ts'

function log(message: string): void {
  process.stdout.write(`${message}\n`)
}

async function writeDatasets(world: World): Promise<void> {
  for (const [name, text] of datasetFiles(buildDatasets(world))) {
    await writeFileAtomic(join(datasetsDirectory, name), text)
  }
  log(`datasets written to ${datasetsDirectory}`)
}

async function train(
  world: World,
  directory: string,
  overrides: Pick<typeof organismTraining, 'steps' | 'seed' | 'separation'>,
): Promise<void> {
  const vocabulary = organismVocabulary()
  const tokenizer = createWordTokenizer(vocabulary)
  const config = organismConfig(vocabulary.length)
  const { separation, ...rest } = { ...organismTraining, ...overrides }
  const settings = { ...rest, ...(separation === undefined || separation.weight === 0 ? {} : { separation }) }
  const steps = settings.steps
  const datasets = buildDatasets(world)
  const heldOutTexts = datasets.neutral.map((row) => row.text)
  const validation = datasets.neutral.filter((row) => row.split === 'validation')
  const next = createDocumentStream(world, tokenizer, {
    seed: settings.seed,
    maxTokens: organismContextLength,
    excludedNarratives: heldOutTexts,
  })
  const checkpoints: TrainingRecord['checkpoints'] = []
  const started = Date.now()
  const cpuStarted = process.cpuUsage()
  log(`training ${steps} steps of ${settings.batchRows} × ${settings.sequence} tokens`)
  const nextText = (): TrainingText => {
    const document = next()
    return { tokens: document.tokens, spans: contrastSpans(document) }
  }
  const result = await trainModel(config, settings, nextText, {
    onStep: (report) => {
      if (report.step % 50 === 0 || report.step === steps - 1) {
        const elapsed = (Date.now() - started) / 1000
        const term = report.separation === undefined ? '' : `  separation ${report.separation.toFixed(4)}`
        log(
          `step ${report.step + 1}/${steps}  loss ${report.loss.toFixed(4)}${term}  lr ${report.learningRate.toExponential(2)}  ${elapsed.toFixed(0)} s`,
        )
      }
    },
    checkpoint: {
      every: Math.max(1, Math.round(steps / 6)),
      run: async (step, parameters) => {
        const graph = await createGraphForward(
          config,
          parameters,
          32,
          organismContextLength,
          settings.threads,
        )
        try {
          const neutral = await measureNeutralPerplexity(graph.forward, tokenizer, validation)
          checkpoints.push({ step, neutralPerplexity: neutral.perplexity })
          log(`  step ${step}: held-out neutral perplexity ${neutral.perplexity.toFixed(3)}`)
        } finally {
          await graph.release()
        }
      },
    },
  })
  const cpu = process.cpuUsage(cpuStarted)
  const record: TrainingRecord = {
    worldGeneratorVersion,
    seed: organismSeed,
    vocabularySize: vocabulary.length,
    config,
    settings,
    losses: result.history.map((report) => Number(report.loss.toFixed(5))),
    ...(settings.separation === undefined
      ? {}
      : {
          separations: result.history.map((report) =>
            Number((report.separation ?? Number.NaN).toPrecision(4)),
          ),
        }),
    tokensSeen: result.history.at(-1)?.tokensSeen ?? 0,
    checkpoints,
    wallSeconds: (Date.now() - started) / 1000,
    cpuSeconds: (cpu.user + cpu.system) / 1e6,
  }
  await exportModelFolder(
    toCheckpoint(config, result.parameters),
    buildTokenizerFiles(vocabulary, config.maxPositionEmbeddings),
    directory,
    { family: 'builder', dtype: 'float32', overwrite: true },
  )
  await writeFileAtomic(join(directory, trainingRecordFile), JSON.stringify(record) + '\n')
  log(`exported to ${directory}`)
}

async function evaluate(world: World, directory: string): Promise<void> {
  const datasets = buildDatasets(world)
  const tokenizer = await readFolderTokenizer(directory)
  const model = await loadModel(directory, { provider: 'cpu' })
  let base
  try {
    log('measuring the base model')
    base = await measureBaseModel(model, world, datasets, tokenizer)
  } finally {
    await model.dispose()
  }
  // Steered graphs are compiled next to the weights: work on a scratch copy so the committed folder stays clean.
  const scratch = await mkdtemp(join(tmpdir(), 'tiller-organism-steering-'))
  let steering
  let steeringNote: string | undefined
  let separation: Separation | undefined
  try {
    await cp(directory, scratch, { recursive: true })
    const copy = await loadModel(scratch, { provider: 'cpu' })
    try {
      log('measuring the separation of behaviours')
      separation = {
        context: await measureContextInfluence(runtimeForward(copy), tokenizer, datasets),
        overlap: await measureDirectionOverlap(copy, datasets),
      }
      steering = await measureSteerability(copy, datasets, tokenizer, { onProgress: log })
    } finally {
      await copy.dispose()
    }
  } catch (error) {
    steeringNote = `the sweep failed: ${error instanceof Error ? error.message : String(error)}`
    log(steeringNote)
  } finally {
    await rm(scratch, { recursive: true, force: true })
  }
  const evaluation: EvaluationRecord = {
    base,
    steering: steering ?? null,
    steeringNote: steeringNote ?? null,
    separation: separation ?? null,
  }
  await writeFileAtomic(join(directory, evaluationRecordFile), JSON.stringify(evaluation, null, 1) + '\n')
  await writeCard(world, directory)
}

async function writeCard(world: World, directory: string): Promise<void> {
  await writeFileAtomic(join(directory, modelCardFile), await renderFolderModelCard(world, directory))
  log(`model card written to ${join(directory, modelCardFile)}`)
}

async function main(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      'datasets-only': { type: 'boolean', default: false },
      'evaluate-only': { type: 'boolean', default: false },
      'card-only': { type: 'boolean', default: false },
      steps: { type: 'string' },
      'training-seed': { type: 'string' },
      output: { type: 'string' },
      'separation-weight': { type: 'string' },
      'separation-fixed-norms': { type: 'boolean', default: false },
    },
  })
  const world = createWorld(organismSeed)
  await writeDatasets(world)
  if (values['datasets-only']) return
  const directory = resolve(values.output ?? organismModelDirectory)
  if (values['card-only']) return writeCard(world, directory)
  if (!values['evaluate-only']) {
    const steps = positiveInteger('--steps', values.steps, organismTraining.steps)
    const seed = positiveInteger('--training-seed', values['training-seed'], organismTraining.seed)
    const weight = values['separation-weight']
    const separation =
      weight === undefined
        ? organismTraining.separation
        : {
            groups: behaviours.length,
            weight: nonNegativeNumber('--separation-weight', weight),
            ...(values['separation-fixed-norms'] ? { fixedNorms: true } : {}),
          }
    await train(world, directory, { steps, seed, separation })
  }
  await evaluate(world, directory)
}

function positiveInteger(option: string, text: string | undefined, fallback: number): number {
  if (text === undefined) return fallback
  const value = Number(text)
  if (!Number.isInteger(value) || value <= 0)
    throw new Error(`${option} must be a positive integer; got ${text}`)
  return value
}

function nonNegativeNumber(option: string, text: string): number {
  const value = Number(text)
  if (text.trim() === '' || !Number.isFinite(value) || value < 0)
    throw new Error(`${option} must be a number ≥ 0; got ${text}`)
  return value
}

await main(process.argv.slice(2))
