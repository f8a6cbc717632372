/**
 * `npm run bench -- quantized-decode [--tokens N] [--repeats R] [--provider P] [--threads T]`: decode tokens/s of
 * the q4 export (MatMulNBits, 4-bit linear weights) against the float32 export of the same random 110M-parameter
 * Llama (hidden 768, 12 layers, vocabulary 32,000, tied head; weight seed 7), both built once by the exporter and
 * cached in .cache/bench/. Runs alternate between the two folders; the medians and their ratio are printed, with
 * each graph's bytes on disk (weights read per decoded token, the embedding table aside).
 */
import { existsSync, mkdirSync, readdirSync, statSync } from 'node:fs'
import { loadavg } from 'node:os'
import { join, resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { byteTokenizerFiles } from '../../src/main/core/models/byte-tokenizer.ts'
import { exportModelFolder, type ExportDType } from '../../src/main/core/models/exporter/index.ts'
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

const dtypes = ['float32', 'q4'] as const

/** The cached folder of the 110M model exported as `dtype`, exported on first use. */
async function folderOf(dtype: ExportDType): Promise<string> {
  const folder = join(cacheFolder, `random-110M-builder-${dtype}`)
  if (!existsSync(join(folder, 'config.json'))) {
    process.stdout.write(`Exporting the random 110M model as ${dtype} into ${folder} (once)...\n`)
    await exportModelFolder(
      randomCheckpoint(largeConfig, 7),
      byteTokenizerFiles(largeConfig.vocabSize),
      folder,
      {
        family: 'builder',
        dtype,
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
  const folders = { float32: await folderOf('float32'), q4: await folderOf('q4') }
  process.stdout.write(
    `Quantized decode: ${provider}, ${values.threads ?? 'all'} threads, ${tokens} tokens, ${repeats} interleaved ` +
      `runs, load average ${loadavg()[0]?.toFixed(2)}\n`,
  )
  const models = {
    float32: await loadModel(folders.float32, { provider }),
    q4: await loadModel(folders.q4, { provider }),
  }
  try {
    const rates = { float32: [] as number[], q4: [] as number[] }
    for (const dtype of dtypes) await decodeRate(models[dtype], 4)
    for (let repeat = 0; repeat < repeats; repeat++) {
      for (const dtype of dtypes) rates[dtype].push(await decodeRate(models[dtype], tokens))
    }
    for (const dtype of dtypes) {
      process.stdout.write(
        `  ${dtype.padEnd(7)} ${median(rates[dtype]).toFixed(1)} tokens/s (median; fastest ` +
          `${Math.max(...rates[dtype]).toFixed(1)}), graph ${graphMegabytes(folders[dtype]).toFixed(0)} MB\n`,
      )
    }
    process.stdout.write(
      `q4 ÷ float32 decode tokens/s: ${(median(rates.q4) / median(rates.float32)).toFixed(2)}× (median), ` +
        `${(Math.max(...rates.q4) / Math.max(...rates.float32)).toFixed(2)}× (fastest)\n`,
    )
  } finally {
    await models.float32.dispose()
    await models.q4.dispose()
  }
  process.stdout.write(`load average at the end: ${loadavg()[0]?.toFixed(2)}\n`)
}
