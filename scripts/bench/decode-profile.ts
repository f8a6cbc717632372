/**
 * `npm run bench -- decode-profile [--tokens N] [--repeats R] [--provider P] [--threads T] [--skip-large]`: where a
 * decode step's time goes, on stories260K and on a random 110M-parameter Llama (hidden 768, 12 layers,
 * vocabulary 32,000, tied head; built once by the exporter and cached in .cache/bench/).
 *
 * 1. The generation loop's pieces, timed per step with the runtime's own functions in the loop's order: building
 *    feeds, `session.run`, taking the presents as the next pasts, reading and ranking the logits, detokenizing.
 * 2. ONNX Runtime's profiler (`enableProfiling`) over the same decode: kernel time per operator type and the
 *    share of `session.run` spent outside kernels.
 * 3. Prefill of a 64-token prompt with last-position logits against every position's logits (the graph before
 *    `num_logits_to_keep`), interleaved.
 * 4. Decode tokens/s with the effective bandwidth (weight bytes read per token × tokens/s) beside the read bandwidth of a
 *    256 MB ReduceSum measured by ONNX Runtime in the same run.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { loadavg } from 'node:os'
import { basename, join, resolve } from 'node:path'
import { parseArgs } from 'node:util'
import * as ort from 'onnxruntime-node'
import { graphOutputs } from '../../src/main/core/models/graph-contract.ts'
import { decodeFeeds, layoutRows, logitsToKeepFeed, prefillFeeds } from '../../src/main/core/runtime/feeds.ts'
import { emptyCache } from '../../src/main/core/runtime/graph-io.ts'
import { LogitsRows } from '../../src/main/core/runtime/logits.ts'
import { loadModel, type LoadedModel } from '../../src/main/core/runtime/model.ts'
import { paddingTokenId } from '../../src/main/core/runtime/model-config.ts'
import { RowSampler } from '../../src/main/core/runtime/sampling.ts'
import { sessionOptions } from '../../src/main/core/runtime/session.ts'
import { TextStream } from '../../src/main/core/runtime/text-stream.ts'
import { reductionReadBandwidth, weightBytes } from './support/bandwidth.ts'
import { exportRandomLlama, exportStories, randomLlamaConfig, withScratchFolder } from './support/models.ts'
import { applyRuntimeOptions } from './support/options.ts'
import { median } from './support/timing.ts'
import type { ExecutionProviderName } from '../../src/shared/engine-status.ts'

const repositoryRoot = resolve(import.meta.dirname, '..', '..')
const cacheFolder = join(repositoryRoot, '.cache', 'bench')

/** The 110M model: 12 × (4 × 768² + 3 × 768 × 2048) + 32,000 × 768 (tied head). */
const largeConfig = randomLlamaConfig({
  vocabSize: 32000,
  hiddenSize: 768,
  intermediateSize: 2048,
  numLayers: 12,
  maxPositionEmbeddings: 2048,
})

const parts = ['feeds', 'run', 'presents', 'logits+pick', 'detokenize'] as const
type Part = (typeof parts)[number]

interface Settings {
  tokens: number
  repeats: number
  threads: number | undefined
  provider: ExecutionProviderName
}

/** One greedy decode of `tokens` new tokens on `session`, timing each part of every decode step (prefill excluded). */
async function timedDecode(
  model: LoadedModel,
  session: ort.InferenceSession,
  prompt: number[],
  tokens: number,
): Promise<Record<Part, number[]>> {
  const times = Object.fromEntries(parts.map((part) => [part, [] as number[]])) as Record<Part, number[]>
  const layout = layoutRows([prompt])
  const { graph } = model
  const sampler = new RowSampler(
    model.config.vocabSize,
    { temperature: 0, topK: 0, topP: 1, repetitionPenalty: 1 },
    1,
  )
  const stream = new TextStream(model.tokenizer, prompt, [])
  const logitsRows = new LogitsRows(1, model.config.vocabSize)
  const fetches = [graphOutputs.logits, ...graph.cache.presentNames]
  let past = emptyCache(graph.cache, 1)
  let pastLength = 0
  let next = prompt[prompt.length - 1] as number
  for (let step = 0; step <= tokens; step++) {
    const marks = [performance.now()]
    const feeds =
      step === 0
        ? prefillFeeds(layout, [prompt], paddingTokenId(model.config), graph)
        : decodeFeeds(layout, [next], pastLength, graph)
    graph.cache.pastNames.forEach((name, index) => {
      feeds[name] = past[index] as ort.Tensor
    })
    Object.assign(feeds, logitsToKeepFeed(graph, 1))
    marks.push(performance.now())
    const outputs = await session.run(feeds, fetches)
    marks.push(performance.now())
    past = graph.cache.presentNames.map((name) => outputs[name] as ort.Tensor)
    pastLength += step === 0 ? prompt.length : 1
    marks.push(performance.now())
    next = sampler.pick(logitsRows.lastPosition(outputs[graphOutputs.logits] as ort.Tensor, 0))
    marks.push(performance.now())
    stream.push(next)
    marks.push(performance.now())
    if (step === 0) continue
    parts.forEach((part, index) => times[part].push((marks[index + 1] as number) - (marks[index] as number)))
  }
  return times
}

interface ProfileEvent {
  cat?: string
  name?: string
  dur?: number
  args?: { op_name?: string }
}

/** Kernel microseconds per operator type and total `model_run` microseconds from an ONNX Runtime profile file. */
function summarizeProfile(path: string): { byOperator: Map<string, number>; runs: number; kernels: number } {
  const events = JSON.parse(readFileSync(path, 'utf8')) as ProfileEvent[]
  const byOperator = new Map<string, number>()
  let runs = 0
  let kernels = 0
  for (const event of events) {
    if (event.cat === 'Session' && event.name === 'model_run') runs += event.dur ?? 0
    if (event.cat !== 'Node' || !event.name?.endsWith('_kernel_time')) continue
    const operator = event.args?.op_name ?? 'unknown'
    byOperator.set(operator, (byOperator.get(operator) ?? 0) + (event.dur ?? 0))
    kernels += event.dur ?? 0
  }
  return { byOperator, runs, kernels }
}

function options(settings: Settings): ort.InferenceSession.SessionOptions {
  return sessionOptions(settings.provider)
}

async function profileFolder(label: string, folder: string, settings: Settings) {
  const model = await loadModel(folder, { provider: settings.provider })
  const session = await ort.InferenceSession.create(model.graphPath, options(settings))
  // Ordinary tokens after BOS, valid in any vocabulary of more than a few hundred ids.
  const prompt = [model.config.bosTokenId ?? 1, ...Array.from({ length: 7 }, (_, index) => 270 + index * 31)]
  await timedDecode(model, session, prompt, 4)
  const collected = Object.fromEntries(parts.map((part) => [part, [] as number[]])) as Record<Part, number[]>
  for (let repeat = 0; repeat < settings.repeats; repeat++) {
    const times = await timedDecode(model, session, prompt, settings.tokens)
    for (const part of parts) collected[part].push(...times[part])
  }
  // The yardstick right after the decode, so both see the same machine load.
  const bandwidth = await reductionReadBandwidth(256, 7)
  const perStep = parts.map((part) => median(collected[part]))
  const stepMilliseconds = perStep.reduce((sum, value) => sum + value, 0)
  const tokensPerSecond = 1000 / stepMilliseconds
  // A step reads every weight once except the embedding table, of which it gathers one row per token.
  const elementBytes = model.cache.dtype === 'float16' ? 2 : 4
  const bytes = weightBytes(folder) - model.config.vocabSize * model.config.hiddenSize * elementBytes
  process.stdout.write(
    `\n${label} (${(bytes / 1e6).toFixed(1)} MB of weights read per token)\n` +
      `  decode step, median of ${collected.run.length} steps: ${(stepMilliseconds * 1000).toFixed(0)} µs ` +
      `= ${tokensPerSecond.toFixed(1)} tokens/s; effective bandwidth ${((bytes * tokensPerSecond) / 1e9).toFixed(2)} ` +
      `GB/s vs ReduceSum ${bandwidth.toFixed(2)} GB/s (measured right after)\n`,
  )
  parts.forEach((part, index) => {
    const value = perStep[index] as number
    process.stdout.write(
      `    ${part.padEnd(12)} ${(value * 1000).toFixed(1).padStart(9)} µs  ${((value / stepMilliseconds) * 100).toFixed(1).padStart(5)} %\n`,
    )
  })
  const prefill = await prefillComparison(model, session, 64, Math.max(5, settings.repeats * 2))
  if (prefill !== undefined) {
    process.stdout.write(
      `  prefill, 64-token prompt: last-position logits ${prefill.last.toFixed(0)} tokens/s, every position ` +
        `${prefill.all.toFixed(0)} tokens/s, ratio ${(prefill.last / prefill.all).toFixed(2)}×\n`,
    )
  }
  await session.release()
  // ONNX Runtime's profiler on a separate session (profiling slows every kernel a little).
  const prefix = join(cacheFolder, `profile-${process.pid}`)
  const profiled = await ort.InferenceSession.create(model.graphPath, {
    ...options(settings),
    enableProfiling: true,
    profileFilePrefix: prefix,
  })
  await timedDecode(model, profiled, prompt, settings.tokens)
  profiled.endProfiling()
  await profiled.release()
  // ONNX Runtime names the file `<prefix>_<timestamp>.json`.
  const profileName = readdirSync(cacheFolder).find((name) => name.startsWith(basename(prefix)))
  if (profileName === undefined) throw new Error(`ONNX Runtime wrote no profile under ${cacheFolder}`)
  const profilePath = join(cacheFolder, profileName)
  const summary = summarizeProfile(profilePath)
  rmSync(profilePath, { force: true })
  process.stdout.write(
    `  ONNX Runtime profile (prefill + ${settings.tokens} steps): kernels ${(summary.kernels / 1000).toFixed(1)} ms ` +
      `of ${(summary.runs / 1000).toFixed(1)} ms in session.run (${((1 - summary.kernels / summary.runs) * 100).toFixed(1)} % outside kernels)\n`,
  )
  for (const [operator, micros] of [...summary.byOperator].sort((a, b) => b[1] - a[1]).slice(0, 8)) {
    process.stdout.write(
      `    ${operator.padEnd(32)} ${(micros / 1000).toFixed(2).padStart(9)} ms  ${((micros / summary.kernels) * 100).toFixed(1).padStart(5)} %\n`,
    )
  }
  await model.dispose()
}

/**
 * Prefill of a `length`-token prompt as generation runs it (cache and the last position's logits,
 * num_logits_to_keep 1) against the same graph computing every position's logits (0, what graphs without the
 * input always do), interleaved; returns median tokens/s of both.
 */
async function prefillComparison(
  model: LoadedModel,
  session: ort.InferenceSession,
  length: number,
  repeats: number,
): Promise<{ last: number; all: number } | undefined> {
  const { graph } = model
  if (graph.logitsToKeepInput === undefined) return undefined
  const prompt = Array.from({ length }, (_, index) => 270 + ((index * 31) % (model.config.vocabSize - 270)))
  const layout = layoutRows([prompt])
  const fetches = [graphOutputs.logits, ...graph.cache.presentNames]
  const runOnce = async (keep: 0 | 1) => {
    const feeds = prefillFeeds(layout, [prompt], paddingTokenId(model.config), graph)
    const past = emptyCache(graph.cache, 1)
    graph.cache.pastNames.forEach((name, index) => {
      feeds[name] = past[index] as ort.Tensor
    })
    Object.assign(feeds, logitsToKeepFeed(graph, keep))
    const start = performance.now()
    await session.run(feeds, fetches)
    return performance.now() - start
  }
  await runOnce(1)
  await runOnce(0)
  const last: number[] = []
  const all: number[] = []
  for (let repeat = 0; repeat < repeats; repeat++) {
    last.push(await runOnce(1))
    all.push(await runOnce(0))
  }
  return { last: (length * 1000) / median(last), all: (length * 1000) / median(all) }
}

/** The cached 110M folder, exported on first use. */
async function largeFolder(): Promise<string> {
  const folder = join(cacheFolder, 'random-110M-builder')
  if (!existsSync(join(folder, 'config.json'))) {
    process.stdout.write(`Exporting the random 110M model into ${folder} (once)...\n`)
    await exportRandomLlama(folder, largeConfig)
  }
  return folder
}

/** Runs the profile with command-line `args`. */
export async function run(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      tokens: { type: 'string', default: '32' },
      repeats: { type: 'string', default: '5' },
      threads: { type: 'string' },
      provider: { type: 'string', default: 'cpu' },
      'skip-large': { type: 'boolean', default: false },
    },
  })
  const provider = applyRuntimeOptions(values)
  const settings: Settings = {
    tokens: Number(values.tokens),
    repeats: Number(values.repeats),
    threads: values.threads === undefined ? undefined : Number(values.threads),
    provider,
  }
  mkdirSync(cacheFolder, { recursive: true })
  process.stdout.write(
    `Decode profile: ${provider}, ${settings.threads ?? 'all'} threads, ONNX Runtime ${ort.env.versions.node}, load ` +
      `average ${loadavg()[0]?.toFixed(2)}\n`,
  )
  await withScratchFolder('tiller-profile-', async (scratch) => {
    const stories = join(scratch, 'stories260K-builder')
    await exportStories(stories, 'builder')
    await profileFolder('stories260K, builder graph', stories, settings)
  })
  if (!values['skip-large']) {
    await profileFolder('random 110M Llama, builder graph', await largeFolder(), settings)
  }
  process.stdout.write(`load average at the end: ${loadavg()[0]?.toFixed(2)}\n`)
}
