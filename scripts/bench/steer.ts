/**
 * `npm run bench -- steer`: what steering costs, measured side by side in one run.
 *
 *   1. decode tokens/s of the unsteered graph vs the steered graph with an additive edit on 5 layers (target ≥ 0.98×)
 *   2. one decode step of a two-row batch (base row at strength 0 + steered row) vs a one-row step (target ≤ 1.15×)
 *   3. capture tokens/s (hooks-only forward passes reduced to rows) vs plain prefill tokens/s (target ≥ 0.95×), for
 *      the first five layers and for layer 0 alone
 *
 * Method: generation is timed with 1 new token and with N new tokens from the same prompt, greedy, median over
 * repeats, variants interleaved; decode time per token = (T_N − T_1) / (N − 1). Capture and prefill run the same
 * rows in the same batches, interleaved; capture's time includes compiling (or finding) and loading its graph.
 *
 * Models: stories260K imported from ../shared/fixtures on the fly, and a random ~30M-parameter Llama built by the
 * exporter (hidden 512, 8 layers, vocab 16000). Options: --model DIR (this folder only), --tokens N (default 64),
 * --repeats R (default 5), --skip-large.
 */
import { join, resolve } from 'node:path'
import { parseArgs } from 'node:util'
import type { Edit } from '../../src/shared/edit.ts'
import { captureActivations } from '../../src/main/core/capture/capture.ts'
import type { RenderedExample, RenderedSequence } from '../../src/main/core/data/render.ts'
import { compileEdits } from '../../src/main/core/edits/compiler/compile.ts'
import { steeringInputs } from '../../src/main/core/edits/steered-generation.ts'
import { locateHookSites } from '../../src/main/core/models/locator/index.ts'
import { forwardBatch } from '../../src/main/core/runtime/forward.ts'
import { generate } from '../../src/main/core/runtime/generate.ts'
import { loadModel, type LoadedModel } from '../../src/main/core/runtime/model.ts'
import type { ExtraInputs } from '../../src/main/core/runtime/step-context.ts'
import { applyRuntimeOptions, benchmarkOptions } from './support/options.ts'
import { exportRandomLlama, exportStories, randomLlamaConfig, withScratchFolder } from './support/models.ts'
import { elapsedMilliseconds, median } from './support/timing.ts'
import type { ExecutionProviderName } from '../../src/shared/engine-status.ts'

interface Settings {
  tokens: number
  repeats: number
  provider: ExecutionProviderName
}

const largeConfig = randomLlamaConfig({
  vocabSize: 16000,
  hiddenSize: 512,
  intermediateSize: 1536,
  numLayers: 8,
  maxPositionEmbeddings: 1024,
})

async function timeGeneration(
  model: LoadedModel,
  rows: number[][],
  tokens: number,
  extraInputs?: ExtraInputs,
): Promise<number> {
  // EOS is disabled (an id no model emits) so every run generates exactly `tokens` tokens.
  return elapsedMilliseconds(() =>
    generate(model, {
      rows,
      options: { maxTokens: tokens, temperature: 0, eosTokenIds: [-1] },
      extraInputs,
    }),
  )
}

/** Milliseconds per decode step, for each variant, measured interleaved. */
async function decodeStepTimes(
  variants: Array<{ model: LoadedModel; rows: number[][]; extraInputs?: ExtraInputs }>,
  settings: Settings,
): Promise<number[]> {
  const samples = variants.map(() => [] as number[])
  for (const variant of variants) await timeGeneration(variant.model, variant.rows, 4, variant.extraInputs)
  for (let repeat = 0; repeat < settings.repeats; repeat++) {
    for (const [index, variant] of variants.entries()) {
      const one = await timeGeneration(variant.model, variant.rows, 1, variant.extraInputs)
      const many = await timeGeneration(variant.model, variant.rows, settings.tokens, variant.extraInputs)
      samples[index]?.push((many - one) / (settings.tokens - 1))
    }
  }
  return samples.map(median)
}

function additiveEdit(hidden: number, layers: number[]): Edit {
  const vector = Float32Array.from({ length: hidden }, (_, index) => Math.sin(index) * 0.1)
  return {
    version: 1,
    id: 'bench-additive',
    method: 'mean-diff',
    options: {},
    model: { architecture: 'llama', layers: 0, hiddenSize: hidden, tokenizerHash: '', weightsHash: '' },
    interventions: layers.map((layer) => ({
      layer,
      site: 'resid_post',
      positions: { kind: 'all' },
      op: { kind: 'add', vector },
    })),
    created: new Date(0).toISOString(),
    notes: '',
  }
}

function syntheticExamples(count: number, length: number, vocab: number): RenderedExample[] {
  const side = (offset: number): RenderedSequence => {
    const tokenIds = Array.from({ length }, (_, index) => 3 + ((index * 7 + offset) % (vocab - 3)))
    const promptEnd = Math.floor(length / 2)
    return {
      text: '',
      tokenIds,
      prompt: { start: 0, end: promptEnd },
      completion: { start: promptEnd, end: length },
      lastPromptToken: promptEnd - 1,
      assistantStart: promptEnd,
      answerLetter: undefined,
      padding: 0,
    }
  }
  return Array.from({ length: count }, (_, index) => ({
    id: `row-${index}`,
    lines: [index + 1],
    positive: side(index),
    negative: side(index + 101),
  }))
}

async function benchFolder(label: string, folder: string, settings: Settings): Promise<void> {
  const map = await locateHookSites(folder)
  const layers = Array.from({ length: Math.min(5, map.layers.length) }, (_, index) => index)
  const compiled = await compileEdits(folder, [additiveEdit(map.widths.resid_post, layers)])
  const base = await loadModel(folder, { provider: settings.provider })
  const steered = await loadModel(folder, { provider: settings.provider, graphFile: compiled.graphFile })
  try {
    const prompt = [[base.config.bosTokenId ?? 1, 10, 11, 12, 13, 14, 15, 16]]
    const twoRows = [prompt[0] as number[], prompt[0] as number[]]
    const [plainStep, steeredStep, pairStep, plainPairStep] = await decodeStepTimes(
      [
        { model: base, rows: prompt },
        { model: steered, rows: prompt, extraInputs: steeringInputs(compiled, [1]) },
        { model: steered, rows: twoRows, extraInputs: steeringInputs(compiled, [0, 1]) },
        // Reference: what a second row costs the unsteered graph (runtime and ONNX Runtime alone).
        { model: base, rows: twoRows },
      ],
      settings,
    )
    const plainRate = 1000 / (plainStep ?? 1)
    const steeredRate = 1000 / (steeredStep ?? 1)
    const vocab = base.config.vocabSize
    // Enough rows that capture's one-time hooked-session load is a small part of its time.
    const examples = syntheticExamples(label.startsWith('stories') ? 256 : 32, 48, vocab)
    const tokens = examples.length * 2 * 48
    const rows = examples.flatMap((example) => [example.positive.tokenIds, example.negative.tokenIds])
    const batch = 16
    // Plain prefill as generation runs it: the cache and the last position's logits (num_logits_to_keep 1).
    const prefillFetch = { fetch: base.graph.cache.presentNames }
    await forwardBatch(base, rows.slice(0, batch), prefillFetch)
    const prefillTimes: number[] = []
    // Capture of the first five layers, and of the first layer alone (its hooks-only graph stops after layer 0).
    const captureLayers = [layers, layers.slice(0, 1)]
    const captureTimes = captureLayers.map(() => [] as number[])
    for (let repeat = 0; repeat < Math.max(3, settings.repeats); repeat++) {
      prefillTimes.push(
        await elapsedMilliseconds(async () => {
          for (let offset = 0; offset < rows.length; offset += batch)
            await forwardBatch(base, rows.slice(offset, offset + batch), prefillFetch)
        }),
      )
      for (const [index, captured] of captureLayers.entries()) {
        captureTimes[index]?.push(
          await elapsedMilliseconds(() =>
            captureActivations(base, examples, {
              site: 'resid_post',
              selector: 'completionMean',
              layers: captured,
              batchSize: batch / 2,
              cacheDirectory: false,
            }),
          ),
        )
      }
    }
    const prefillRate = tokens / (median(prefillTimes) / 1000)
    const [captureRate, firstLayerRate] = captureTimes.map((times) => tokens / (median(times) / 1000))
    const lines = [
      `${label}`,
      `  decode, unsteered             ${plainRate.toFixed(1)} tokens/s`,
      `  decode, additive edit on ${layers.length} layers ${steeredRate.toFixed(1)} tokens/s   ratio ${(steeredRate / plainRate).toFixed(3)} (target ≥ 0.98)`,
      `  decode step, 1 row            ${(steeredStep ?? 0).toFixed(3)} ms`,
      `  decode step, 2 rows (0 and 1) ${(pairStep ?? 0).toFixed(3)} ms   ratio ${((pairStep ?? 0) / (steeredStep ?? 1)).toFixed(3)} (target ≤ 1.15)`,
      `  (unsteered graph, 2 rows vs 1 row: ${((plainPairStep ?? 0) / (plainStep ?? 1)).toFixed(3)})`,
      `  prefill (cache, last logits)  ${prefillRate.toFixed(0)} tokens/s`,
      `  capture (${layers.length} layers, resid_post) ${(captureRate ?? 0).toFixed(0)} tokens/s   ratio ${((captureRate ?? 0) / prefillRate).toFixed(3)} (target ≥ 0.95)`,
      `  capture (layer 0 of ${map.layers.length}, resid_post) ${(firstLayerRate ?? 0).toFixed(0)} tokens/s   ratio ${((firstLayerRate ?? 0) / prefillRate).toFixed(3)}`,
    ]
    process.stdout.write(lines.join('\n') + '\n')
  } finally {
    await base.dispose()
    await steered.dispose()
  }
}

/** Entry point for `npm run bench -- steer`. */
export async function run(args: string[]): Promise<void> {
  const { values } = parseArgs({ args, options: benchmarkOptions(5) })
  const settings: Settings = {
    tokens: Number(values.tokens),
    repeats: Number(values.repeats),
    provider: applyRuntimeOptions(values),
  }
  if (values.model !== undefined) return benchFolder(values.model, resolve(values.model), settings)
  await withScratchFolder('tiller-bench-steer-', async (scratch) => {
    const storiesFolder = join(scratch, 'stories260K')
    await exportStories(storiesFolder, 'builder')
    await benchFolder('stories260K (builder family)', storiesFolder, settings)
    if (!values['skip-large']) {
      const largeFolder = join(scratch, 'random-30M')
      await exportRandomLlama(largeFolder, largeConfig)
      await benchFolder('random ~30M Llama (builder family, hidden 512, 8 layers)', largeFolder, settings)
    }
  })
}
