/**
 * `npm run bench -- decode-graph [--baseline CHECKOUT] [--variants a,b,…] [--tokens N] [--repeats R] [--threads T]
 * [--provider P] [--skip-large]`: decode step time of graph variants of the same model, exported side by side and
 * run interleaved in one process, so the ratios hold whatever the machine's load.
 *
 * Variants: `default` (this checkout's default export), `onnx`, `mha`, `gqa` (its builder family with that attention
 * op), and `baseline`: the default export of another checkout (--baseline, e.g. /work/main or a `git worktree` of an
 * older commit), through that checkout's own exporter. Default: `baseline,default` with --baseline, else
 * `mha,default`. The first variant is the reference.
 * For stories260K and the random 110M Llama, every variant is exported into a scratch folder, its greedy logits are
 * checked against the reference's (largest difference printed), and then each repeat runs, in rotating order, one
 * 64-token prefill and one greedy decode of `tokens` steps per variant. Printed per variant: median `session.run`
 * time of a decode step, tokens/s, CPU time per step (process user + system, which load inflates less than wall
 * time), median prefill time, and each ratio to the reference.
 */
import { loadavg } from 'node:os'
import { join, resolve } from 'node:path'
import { pathToFileURL } from 'node:url'
import { parseArgs } from 'node:util'
import * as ort from 'onnxruntime-node'
import { byteTokenizerFiles } from '../../src/main/core/models/byte-tokenizer.ts'
import type { LlamaCheckpoint, TokenizerFiles } from '../../src/main/core/models/checkpoint.ts'
import { exportModelFolder, type ExportOptions } from '../../src/main/core/models/exporter/index.ts'
import { importGguf } from '../../src/main/core/models/importers/gguf/import-gguf.ts'
import { randomCheckpoint } from '../../src/main/core/models/random-checkpoint.ts'
import { graphOutputs } from '../../src/main/core/models/graph-contract.ts'
import { decodeFeeds, layoutRows, logitsToKeepFeed, prefillFeeds } from '../../src/main/core/runtime/feeds.ts'
import { emptyCache } from '../../src/main/core/runtime/graph-io.ts'
import { loadModel, type LoadedModel } from '../../src/main/core/runtime/model.ts'
import { paddingTokenId } from '../../src/main/core/runtime/model-config.ts'
import { sessionOptions } from '../../src/main/core/runtime/session.ts'
import type { ExecutionProviderName } from '../../src/shared/engine-status.ts'
import { randomLlamaConfig, storiesGguf, withScratchFolder } from './support/models.ts'
import { applyRuntimeOptions } from './support/options.ts'
import { median } from './support/timing.ts'

/** The graph variants this benchmark knows, by name: this checkout's exporter with export options. */
const knownVariants: Record<string, Partial<ExportOptions>> = {
  default: {},
  mha: { attention: 'mha' },
  gqa: { attention: 'gqa' },
  onnx: { attention: 'onnx' },
}

/** `baseline`: the default export of the checkout given by --baseline (e.g. the main branch), through its own code. */
const baselineName = 'baseline'

type ExportModelFolder = typeof exportModelFolder

/** The issue's 110M model (decode-profile.ts's), exported per variant into the scratch folder. */
const largeConfig = randomLlamaConfig({
  vocabSize: 32000,
  hiddenSize: 768,
  intermediateSize: 2048,
  numLayers: 12,
  maxPositionEmbeddings: 2048,
})

interface Variant {
  name: string
  model: LoadedModel
  session: ort.InferenceSession
  stepMilliseconds: number[]
  stepCpuMicroseconds: number[]
  prefillMilliseconds: number[]
}

/** Run the prompt then `tokens` greedy steps; returns each step's logits row and times (prefill excluded). */
async function greedyDecode(
  variant: Variant,
  prompt: number[],
  tokens: number,
): Promise<{ logits: Float32Array[]; stepMilliseconds: number[]; cpuMicroseconds: number }> {
  const { model, session } = variant
  const { graph } = model
  const layout = layoutRows([prompt])
  const fetches = [graphOutputs.logits, ...graph.cache.presentNames]
  let past = emptyCache(graph.cache, 1)
  let pastLength = 0
  let next = 0
  const logits: Float32Array[] = []
  const stepMilliseconds: number[] = []
  let cpuStart = process.cpuUsage()
  for (let step = 0; step <= tokens; step++) {
    const feeds =
      step === 0
        ? prefillFeeds(layout, [prompt], paddingTokenId(model.config), graph)
        : decodeFeeds(layout, [next], pastLength, graph)
    graph.cache.pastNames.forEach((name, index) => {
      feeds[name] = past[index] as ort.Tensor
    })
    Object.assign(feeds, logitsToKeepFeed(graph, 1))
    if (step === 1) cpuStart = process.cpuUsage()
    const start = performance.now()
    const outputs = await session.run(feeds, fetches)
    if (step > 0) stepMilliseconds.push(performance.now() - start)
    past = graph.cache.presentNames.map((name) => outputs[name] as ort.Tensor)
    pastLength += step === 0 ? prompt.length : 1
    const row = (outputs[graphOutputs.logits] as ort.Tensor).data as Float32Array
    const last = row.slice(row.length - model.config.vocabSize)
    logits.push(last)
    next = last.indexOf(Math.max(...last))
  }
  const cpu = process.cpuUsage(cpuStart)
  return { logits, stepMilliseconds, cpuMicroseconds: (cpu.user + cpu.system) / tokens }
}

/** One 64-token prefill with last-position logits; wall milliseconds. */
async function prefillOnce(variant: Variant, prompt: number[]): Promise<number> {
  const { model, session } = variant
  const { graph } = model
  const feeds = prefillFeeds(layoutRows([prompt]), [prompt], paddingTokenId(model.config), graph)
  emptyCache(graph.cache, 1).forEach((tensor, index) => {
    feeds[graph.cache.pastNames[index] as string] = tensor
  })
  Object.assign(feeds, logitsToKeepFeed(graph, 1))
  const start = performance.now()
  await session.run(feeds, [graphOutputs.logits, ...graph.cache.presentNames])
  return performance.now() - start
}

function largestDifference(first: Float32Array[], second: Float32Array[]): number {
  let largest = 0
  first.forEach((row, step) => {
    const other = second[step] as Float32Array
    for (let index = 0; index < row.length; index++) {
      largest = Math.max(largest, Math.abs((row[index] as number) - (other[index] as number)))
    }
  })
  return largest
}

/** The model to export: a checkpoint and its tokenizer. */
interface Source {
  checkpoint: LlamaCheckpoint
  tokenizer: TokenizerFiles
}

async function compareVariants(
  label: string,
  source: Source,
  names: string[],
  baseline: ExportModelFolder | undefined,
  settings: { tokens: number; repeats: number; provider: ExecutionProviderName },
): Promise<void> {
  await withScratchFolder('tiller-decode-graph-', async (scratch) => {
    const variants: Variant[] = []
    for (const name of names) {
      const folder = join(scratch, name)
      const exporter = name === baselineName ? (baseline as ExportModelFolder) : exportModelFolder
      const options = name === baselineName ? {} : knownVariants[name]
      await exporter(source.checkpoint, source.tokenizer, folder, { family: 'builder', ...options })
      const model = await loadModel(folder, { provider: settings.provider })
      const session = await ort.InferenceSession.create(model.graphPath, sessionOptions(settings.provider))
      variants.push({
        name,
        model,
        session,
        stepMilliseconds: [],
        stepCpuMicroseconds: [],
        prefillMilliseconds: [],
      })
    }
    const vocabulary = variants[0]?.model.config.vocabSize ?? 0
    const prompt = [1, ...Array.from({ length: 7 }, (_, index) => 270 + index * 31)].map(
      (id) => id % vocabulary,
    )
    const longPrompt = Array.from({ length: 64 }, (_, index) => 270 + ((index * 31) % (vocabulary - 270)))
    const reference = await greedyDecode(variants[0] as Variant, prompt, settings.tokens)
    process.stdout.write(
      `\n${label}: ${settings.tokens} decode steps after an 8-token prompt, ${settings.repeats} repeats\n`,
    )
    for (const variant of variants) {
      const checked = await greedyDecode(variant, prompt, settings.tokens)
      await prefillOnce(variant, longPrompt)
      process.stdout.write(
        `  ${variant.name}: largest logit difference from ${variants[0]?.name} ${largestDifference(reference.logits, checked.logits).toExponential(2)}\n`,
      )
    }
    for (let repeat = 0; repeat < settings.repeats; repeat++) {
      for (let offset = 0; offset < variants.length; offset++) {
        const variant = variants[(repeat + offset) % variants.length] as Variant
        const run = await greedyDecode(variant, prompt, settings.tokens)
        variant.stepMilliseconds.push(...run.stepMilliseconds)
        variant.stepCpuMicroseconds.push(run.cpuMicroseconds)
        variant.prefillMilliseconds.push(await prefillOnce(variant, longPrompt))
      }
    }
    const base = variants[0] as Variant
    const baseStep = median(base.stepMilliseconds)
    const baseCpu = median(base.stepCpuMicroseconds)
    const basePrefill = median(base.prefillMilliseconds)
    for (const variant of variants) {
      const step = median(variant.stepMilliseconds)
      const cpu = median(variant.stepCpuMicroseconds)
      const prefill = median(variant.prefillMilliseconds)
      process.stdout.write(
        `  ${variant.name.padEnd(10)} step ${(step * 1000).toFixed(0).padStart(7)} µs (${(1000 / step).toFixed(1)} tokens/s, ` +
          `${(baseStep / step).toFixed(3)}× ${base.name})  CPU ${cpu.toFixed(0)} µs/step (${(baseCpu / cpu).toFixed(3)}×)  ` +
          `prefill 64 ${prefill.toFixed(2)} ms (${(basePrefill / prefill).toFixed(3)}×)\n`,
      )
    }
    for (const variant of variants) {
      await variant.session.release()
      await variant.model.dispose()
    }
  })
}

/** Runs the comparison with command-line `args`. */
export async function run(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      tokens: { type: 'string', default: '64' },
      repeats: { type: 'string', default: '7' },
      threads: { type: 'string' },
      provider: { type: 'string', default: 'cpu' },
      'skip-large': { type: 'boolean', default: false },
      baseline: { type: 'string' },
      variants: { type: 'string' },
    },
  })
  const provider = applyRuntimeOptions(values)
  const names = (
    values.variants ?? (values.baseline === undefined ? 'mha,default' : 'baseline,default')
  ).split(',')
  for (const name of names) {
    if (name === baselineName ? values.baseline === undefined : knownVariants[name] === undefined) {
      throw new Error(
        `--variants: no variant "${name}"; known: ${Object.keys(knownVariants).join(', ')}, and ${baselineName} with --baseline`,
      )
    }
  }
  const baseline =
    values.baseline === undefined
      ? undefined
      : (
          (await import(
            pathToFileURL(join(resolve(values.baseline), 'src/main/core/models/exporter/index.ts')).href
          )) as { exportModelFolder: ExportModelFolder }
        ).exportModelFolder
  const settings = { tokens: Number(values.tokens), repeats: Number(values.repeats), provider }
  process.stdout.write(
    `Decode graph variants: ${provider}, ${values.threads ?? 'all'} threads, ONNX Runtime ${ort.env.versions.node}, ` +
      `load average ${loadavg()[0]?.toFixed(2)}${values.baseline === undefined ? '' : `; baseline ${values.baseline}`}\n`,
  )
  const stories = await importGguf(storiesGguf)
  await compareVariants('stories260K', stories, names, baseline, settings)
  if (!values['skip-large']) {
    const large = {
      checkpoint: randomCheckpoint(largeConfig, 7),
      tokenizer: byteTokenizerFiles(largeConfig.vocabSize),
    }
    await compareVariants('random 110M Llama', large, names, baseline, settings)
  }
  process.stdout.write(`load average at the end: ${loadavg()[0]?.toFixed(2)}\n`)
}
