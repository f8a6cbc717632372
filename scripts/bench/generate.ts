/**
 * `npm run bench -- generate`: Tiller's generation loop against Transformers.js `generate()` on the same model
 * folder, same prompt, greedy decoding, in one process and one run.
 *
 * Models: stories260K imported from ../shared/fixtures on the fly (builder and optimum graph families), and a random
 * ~110M-parameter Llama built by the exporter (hidden 768, 12 layers, vocab 32000), where memory bandwidth matters.
 *
 * Method, identical for both engines: time `generate` with 1 new token (prefill + first token) and with N new
 * tokens from the same prompt, median over repeats, the two engines interleaved. Prefill rate = prompt tokens / the
 * 1-token time on a long prompt; decode rate = (N - 1) / (N-token time - 1-token time) on a short prompt.
 *
 * Options: --model DIR (benchmark this folder only), --tokens N (default 64), --repeats R (default 7),
 * --prefill-tokens P (default 128), --skip-large, --provider cpu|cuda|dml, --threads T. Both engines get Tiller's
 * ONNX Runtime session options.
 */
import { availableParallelism, loadavg } from 'node:os'
import { join, resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { AutoModelForCausalLM, Tensor, type PreTrainedModel } from '@huggingface/transformers'
import * as ort from 'onnxruntime-node'
import type { LlamaConfig } from '../../src/main/core/models/checkpoint.ts'
import type { GraphFamily } from '../../src/main/core/models/graph-contract.ts'
import type { ExecutionProviderName } from '../../src/shared/engine-status.ts'
import { generate } from '../../src/main/core/runtime/generate.ts'
import { loadModel, type LoadedModel } from '../../src/main/core/runtime/model.ts'
import { sessionOptions } from '../../src/main/core/runtime/session.ts'
import { configureOfflineTransformers } from '../../src/main/core/runtime/offline-transformers.ts'
import { applyRuntimeOptions, benchmarkOptions } from './support/options.ts'
import { exportRandomLlama, exportStories, randomLlamaConfig, withScratchFolder } from './support/models.ts'
import { median } from './support/timing.ts'

interface Settings {
  tokens: number
  repeats: number
  prefillTokens: number
  provider: ExecutionProviderName
}

type Runner = (prompt: number[], newTokens: number) => Promise<number[]>

/** A ~110M-parameter Llama: 12 x (4 x 768² + 3 x 768 x 2048) + 32000 x 768 (tied head). */
const largeConfig = randomLlamaConfig({
  vocabSize: 32000,
  hiddenSize: 768,
  intermediateSize: 2048,
  numLayers: 12,
  maxPositionEmbeddings: 2048,
})

function parameterCount(config: LlamaConfig): number {
  const { hiddenSize: hidden, intermediateSize: inter, numHeads, numKeyValueHeads, headDim } = config
  const attention = hidden * headDim * (2 * numHeads + 2 * numKeyValueHeads)
  const layer = attention + 3 * hidden * inter + 2 * hidden
  const head = config.tieWordEmbeddings ? 0 : config.vocabSize * hidden
  return config.numLayers * layer + config.vocabSize * hidden + head + hidden
}

function tillerRunner(model: LoadedModel): Runner {
  return async (prompt, newTokens) => {
    // No end-of-sequence stop: both engines must produce exactly newTokens tokens.
    const [result] = await generate(model, {
      rows: [prompt],
      options: { maxTokens: newTokens, eosTokenIds: [] },
    })
    return result?.generated ?? []
  }
}

function transformersRunner(model: PreTrainedModel, vocabSize: number): Runner {
  return async (prompt, newTokens) => {
    const ids = new Tensor('int64', BigInt64Array.from(prompt, BigInt), [1, prompt.length])
    const mask = new Tensor('int64', new BigInt64Array(prompt.length).fill(1n), [1, prompt.length])
    const output = await model.generate({
      input_ids: ids,
      attention_mask: mask,
      max_new_tokens: newTokens,
      do_sample: false,
      // An id outside the vocabulary never matches: no early stop, like Tiller's eosTokenIds: [].
      eos_token_id: vocabSize,
    } as Parameters<PreTrainedModel['generate']>[0])
    const all = (output as { tolist(): bigint[][] }).tolist()[0] ?? []
    return all.slice(prompt.length).map(Number)
  }
}

function promptOf(length: number, vocabSize: number, bos: number): number[] {
  // Deterministic ordinary tokens after BOS (ids above the byte tokenizer's specials).
  return [bos, ...Array.from({ length: length - 1 }, (_, index) => 300 + ((index * 37) % (vocabSize - 300)))]
}

interface Sample {
  /** Wall milliseconds of each run. */
  wall: number[]
  /** Process CPU milliseconds (user + system, all threads) of each run. */
  cpu: number[]
}

interface EngineSamples {
  prefill: Sample
  first: Sample
  full: Sample
  tokens: number[]
}

async function sampleRun(sample: Sample, run: () => Promise<unknown>): Promise<void> {
  const cpu = process.cpuUsage()
  const start = performance.now()
  await run()
  sample.wall.push(performance.now() - start)
  const used = process.cpuUsage(cpu)
  sample.cpu.push((used.user + used.system) / 1000)
}

const emptySample = (): Sample => ({ wall: [], cpu: [] })

/** Rates from one statistic (median or minimum) of the samples. */
function rates(
  samples: EngineSamples,
  prompt: number,
  tokens: number,
  statistic: (values: number[]) => number,
) {
  return {
    prefill: (prompt * 1000) / statistic(samples.prefill.wall),
    decode: ((tokens - 1) * 1000) / (statistic(samples.full.wall) - statistic(samples.first.wall)),
    cpuPerToken: (statistic(samples.full.cpu) - statistic(samples.first.cpu)) / (tokens - 1),
  }
}

function format(value: number, digits = 1, width = 9): string {
  return value.toFixed(digits).padStart(width)
}

function rotate<T>(items: T[], by: number): T[] {
  const shift = by % items.length
  return [...items.slice(shift), ...items.slice(0, shift)]
}

async function benchmarkFolder(label: string, folder: string, settings: Settings): Promise<void> {
  const tiller = await loadModel(folder, { provider: settings.provider })
  configureOfflineTransformers()
  // Transformers.js twice: with Tiller's ONNX Runtime options (the comparison of the two generation loops) and
  // with its own defaults (what a Transformers.js user gets).
  const sameOptions = await AutoModelForCausalLM.from_pretrained(folder, {
    device: settings.provider,
    session_options: sessionOptions(settings.provider),
  })
  const defaults = await AutoModelForCausalLM.from_pretrained(folder, { device: settings.provider })
  const vocabSize = tiller.config.vocabSize
  const bos = tiller.config.bosTokenId ?? 1
  const shortPrompt = promptOf(8, vocabSize, bos)
  const longPrompt = promptOf(settings.prefillTokens, vocabSize, bos)
  const engines: [string, Runner][] = [
    ['Tiller', tillerRunner(tiller)],
    ['Transformers.js (same ORT options)', transformersRunner(sameOptions, vocabSize)],
    ['Transformers.js (its defaults)', transformersRunner(defaults, vocabSize)],
  ]
  const samples = new Map<string, EngineSamples>()
  for (const [name, run] of engines) {
    await run(shortPrompt, 4) // warm-up: first runs allocate arenas
    const tokens = await run(shortPrompt, settings.tokens)
    samples.set(name, { prefill: emptySample(), first: emptySample(), full: emptySample(), tokens })
  }
  for (let repeat = 0; repeat < settings.repeats; repeat++) {
    // Rotate the engines' order so drift in machine load hits all alike.
    for (const [name, run] of rotate(engines, repeat)) {
      const sample = samples.get(name)
      if (sample === undefined) continue
      await sampleRun(sample.prefill, () => run(longPrompt, 1))
      await sampleRun(sample.first, () => run(shortPrompt, 1))
      await sampleRun(sample.full, () => run(shortPrompt, settings.tokens))
    }
  }
  const ours = samples.get('Tiller')
  if (ours === undefined) return
  const reference = JSON.stringify(ours.tokens)
  const agree = [...samples.values()].every((sample) => JSON.stringify(sample.tokens) === reference)
  process.stdout.write(
    `\n${label}\n  folder: ${folder}\n  greedy tokens identical: ${agree ? 'yes' : 'NO'}\n`,
  )
  for (const [statisticName, statistic] of [
    ['median', median],
    ['fastest', (values: number[]) => Math.min(...values)],
  ] as const) {
    process.stdout.write(`  ${statisticName} of ${settings.repeats} runs:\n`)
    const ourRates = rates(ours, longPrompt.length, settings.tokens, statistic)
    for (const [name, sample] of samples) {
      const row = rates(sample, longPrompt.length, settings.tokens, statistic)
      process.stdout.write(
        `    ${name.padEnd(34)} prefill ${format(row.prefill)} tokens/s   decode ${format(row.decode)} tokens/s` +
          `   CPU ${format(row.cpuPerToken, 2, 7)} ms/token\n`,
      )
      if (sample === ours) continue
      process.stdout.write(
        `      ratio Tiller / this: prefill ${(ourRates.prefill / row.prefill).toFixed(2)}x, decode ` +
          `${(ourRates.decode / row.decode).toFixed(2)}x, CPU per decoded token ` +
          `${(row.cpuPerToken / ourRates.cpuPerToken).toFixed(2)}x\n`,
      )
    }
  }
  await defaults.dispose()
  await sameOptions.dispose()
  await tiller.dispose()
}

/** Run the generation benchmark with command-line `args`. */
export async function run(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: { ...benchmarkOptions(7), 'prefill-tokens': { type: 'string', default: '128' } },
  })
  const settings: Settings = {
    tokens: Number(values.tokens),
    repeats: Number(values.repeats),
    prefillTokens: Number(values['prefill-tokens']),
    provider: applyRuntimeOptions(values),
  }
  process.stdout.write(
    `Generation benchmark: greedy, ${settings.tokens} new tokens, prefill prompt ${settings.prefillTokens} tokens, ` +
      `median of ${settings.repeats}, ${settings.provider}, ${values.threads ?? availableParallelism()} threads, ` +
      `ONNX Runtime ${ort.env.versions.node}, load average ${loadavg()[0]?.toFixed(2)}\n`,
  )
  if (values.model !== undefined) {
    await benchmarkFolder('Model folder', resolve(values.model), settings)
    return
  }
  await withScratchFolder('tiller-bench-', async (scratch) => {
    for (const family of ['builder', 'optimum'] as GraphFamily[]) {
      const folder = join(scratch, `stories260K-${family}`)
      await exportStories(folder, family)
      await benchmarkFolder(`stories260K (${family} family)`, folder, settings)
    }
    if (!values['skip-large']) {
      const folder = join(scratch, 'random-110M-builder')
      process.stdout.write(
        `\nBuilding a random ${(parameterCount(largeConfig) / 1e6).toFixed(0)}M-parameter model...\n`,
      )
      await exportRandomLlama(folder, largeConfig)
      await benchmarkFolder(
        `random ${(parameterCount(largeConfig) / 1e6).toFixed(0)}M (builder family)`,
        folder,
        settings,
      )
    }
  })
}
