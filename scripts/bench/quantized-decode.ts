/**
 * `npm run bench -- quantized-decode [--tokens N] [--repeats R] [--provider P] [--threads T]`: decode tokens/s of
 * the q4 export (MatMulNBits, 4-bit linear weights) with int8 compute (the default, accuracy_level 4) and with
 * float32 compute, and of the q8 export with int8 compute, against the float32 export of the same random
 * 110M-parameter Llama (hidden 768, 12 layers, vocabulary 32,000, tied head; weight seed 7), each built once by the
 * exporter and cached in .cache/bench/. Runs alternate between the folders; the medians and their ratios to float32
 * are printed, with each graph's bytes on disk (weights read per decoded token, the embedding table aside).
 */
import { existsSync, mkdirSync, readdirSync, statSync } from 'node:fs'
import { loadavg } from 'node:os'
import { join, resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { byteTokenizerFiles } from '../../src/main/core/models/byte-tokenizer.ts'
import {
  exportModelFolder,
  type ExportDType,
  type LinearCompute,
} from '../../src/main/core/models/exporter/index.ts'
import { randomCheckpoint } from '../../src/main/core/models/random-checkpoint.ts'
import { generate } from '../../src/main/core/runtime/generate.ts'
import { loadModel, type LoadedModel } from '../../src/main/core/runtime/model.ts'
import { randomLlamaConfig } from './support/models.ts'
import { applyRuntimeOptions } from './support/options.ts'
import { median } from './support/timing.ts'

const cacheFolder = join(resolve(import.meta.dirname, '..', '..'), '.cache', 'bench')

/** The decode-profile benchmark's 110M model. */
const largeConfig = randomLlamaConfig({
  vocabSize: 32000,
  hiddenSize: 768,
  intermediateSize: 2048,
  numLayers: 12,
  maxPositionEmbeddings: 2048,
})

/** The exports compared: float32 first, the reference of every ratio. */
const variants: { name: string; dtype: ExportDType; compute?: LinearCompute }[] = [
  { name: 'float32', dtype: 'float32' },
  { name: 'q4-int8', dtype: 'q4', compute: 'int8' },
  { name: 'q4-float32', dtype: 'q4', compute: 'float32' },
  { name: 'q8-int8', dtype: 'q8', compute: 'int8' },
]

/** The cached folder of the 110M model exported as `variant`, exported on first use. */
async function folderOf(variant: (typeof variants)[number]): Promise<string> {
  const folder = join(cacheFolder, `random-110M-builder-${variant.name}`)
  if (!existsSync(join(folder, 'config.json'))) {
    process.stdout.write(`Exporting the random 110M model as ${variant.name} into ${folder} (once)...\n`)
    await exportModelFolder(
      randomCheckpoint(largeConfig, 7),
      byteTokenizerFiles(largeConfig.vocabSize),
      folder,
      {
        family: 'builder',
        dtype: variant.dtype,
        ...(variant.compute === undefined ? {} : { compute: variant.compute }),
      },
    )
  }
  return folder
}

/** Megabytes of the folder's ONNX files (graph and external data). */
function graphMegabytes(folder: string): number {
  const onnx = join(folder, 'onnx')
  return readdirSync(onnx).reduce((total, file) => total + statSync(join(onnx, file)).size, 0) / 1e6
}

/** Decode tokens/s of one greedy run of `tokens` new tokens (the runtime's own decode timing, prefill excluded). */
async function decodeRate(model: LoadedModel, tokens: number): Promise<number> {
  const prompt = [1, 72, 101, 108, 108, 111, 44, 32]
  const [result] = await generate(model, {
    rows: [prompt],
    options: { maxTokens: tokens, temperature: 0, eosTokenIds: [] },
  })
  if (result === undefined) throw new Error('generate returned no row')
  return result.timing.tokensPerSecond
}

/** Runs the comparison with command-line `args`. */
export async function run(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      tokens: { type: 'string', default: '32' },
      repeats: { type: 'string', default: '5' },
      threads: { type: 'string' },
      provider: { type: 'string', default: 'cpu' },
    },
  })
  const provider = applyRuntimeOptions(values)
  const tokens = Number(values.tokens)
  const repeats = Number(values.repeats)
  mkdirSync(cacheFolder, { recursive: true })
  const folders: string[] = []
  for (const variant of variants) folders.push(await folderOf(variant))
  process.stdout.write(
    `Quantized decode: ${provider}, ${values.threads ?? 'all'} threads, ${tokens} tokens, ${repeats} interleaved ` +
      `runs, load average ${loadavg()[0]?.toFixed(2)}\n`,
  )
  const models: LoadedModel[] = []
  try {
    for (const folder of folders) models.push(await loadModel(folder, { provider }))
    const rates = variants.map(() => [] as number[])
    for (const model of models) await decodeRate(model, 4)
    for (let repeat = 0; repeat < repeats; repeat++) {
      for (const [at, model] of models.entries()) rates[at]?.push(await decodeRate(model, tokens))
    }
    const reference = rates[0] ?? []
    for (const [at, variant] of variants.entries()) {
      const own = rates[at] ?? []
      process.stdout.write(
        `  ${variant.name.padEnd(10)} ${median(own).toFixed(1)} tokens/s (median; fastest ` +
          `${Math.max(...own).toFixed(1)}), graph ${graphMegabytes(folders[at] ?? '').toFixed(0)} MB, ` +
          `÷ float32 ${(median(own) / median(reference)).toFixed(2)}× (median), ` +
          `${(Math.max(...own) / Math.max(...reference)).toFixed(2)}× (fastest)\n`,
      )
    }
  } finally {
    for (const model of models) await model.dispose()
  }
  process.stdout.write(`load average at the end: ${loadavg()[0]?.toFixed(2)}\n`)
}
