/**
 * `npm run bench -- hpr-train`: what HPR's training costs on activations of a 0.5B-class model.
 *
 * Synthetic per-token activations (a separable shift along one direction plus Gaussian noise) for `--layers`
 * candidate layers (default 5) of width `--width` (default 896), `--pairs` token pairs (default 20000, ten per
 * demonstration), trained for `--epochs` (default 5) at the paper's batch of 16 pairs: probes for every layer, then
 * angle networks (width → width/2 → width/4 → width/8 → 1) for all of them. Target: ≤ 60 s on 2 cores.
 * All layers share one activation matrix (the values do not change the cost), so memory stays at one layer's.
 */
import { parseArgs } from 'node:util'
import type { ActivationSet } from '../../src/shared/activations.ts'
import { paperAdamW } from '../../src/main/core/methods/hpr/training-settings.ts'
import { trainHpr } from '../../src/main/core/methods/hpr/training.ts'
import { createRandom } from '../../src/main/core/random-streams.ts'

function syntheticActivations(pairs: number, width: number, layers: number): ActivationSet {
  const random = createRandom(1)
  const positive = new Float32Array(pairs * width)
  const negative = new Float32Array(pairs * width)
  for (let row = 0; row < pairs; row++) {
    for (let column = 0; column < width; column++) {
      const base = random.normal()
      const shift = column === 0 ? 3 : 0
      positive[row * width + column] = base + shift + 0.2 * random.normal()
      negative[row * width + column] = base - shift + 0.2 * random.normal()
    }
  }
  const demonstrations = Math.ceil(pairs / 10)
  return {
    site: 'resid_post',
    selector: 'completionTokens',
    layers: Array.from({ length: layers }, (_, layer) => layer),
    width,
    positive: Array.from({ length: layers }, () => positive),
    negative: Array.from({ length: layers }, () => negative),
    rows: pairs,
    rowsPerPair: Array.from({ length: demonstrations }, (_, index) => Math.min(10, pairs - index * 10)),
    exampleIds: Array.from({ length: demonstrations }, (_, index) => `bench-${index}`),
    dataHash: '0'.repeat(64),
    model: { architecture: 'bench', layers, hiddenSize: width, tokenizerHash: '', weightsHash: '' },
  }
}

/** Run the benchmark. */
export async function run(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      pairs: { type: 'string', default: '20000' },
      width: { type: 'string', default: '896' },
      layers: { type: 'string', default: '5' },
      epochs: { type: 'string', default: '5' },
      threads: { type: 'string', default: '2' },
    },
  })
  const [pairs, width, layers, epochs, threads] = [
    values.pairs,
    values.width,
    values.layers,
    values.epochs,
    values.threads,
  ].map(Number) as [number, number, number, number, number]
  const activations = syntheticActivations(pairs, width, layers)
  process.stdout.write(
    `hpr-train: ${pairs} token pairs, ${layers} layers of width ${width}, ${epochs} epochs, ${threads} threads\n`,
  )
  const start = performance.now()
  const cpuStart = process.cpuUsage()
  let angleStart: number | undefined
  const result = await trainHpr(
    activations,
    {
      epochs,
      batchSize: 16,
      learningRate: 5e-4,
      warmupRatio: 0.05,
      schedule: 'linear',
      adamW: paperAdamW,
      seed: 0,
      threads,
    },
    { topK: layers, validationFraction: 0.1, minimumAccuracy: 0.55 },
    {
      onProgress: (_, message) => {
        if (angleStart === undefined && message.startsWith('angle')) angleStart = performance.now()
      },
    },
  )
  const end = performance.now()
  const cpu = process.cpuUsage(cpuStart)
  const cpuSeconds = (cpu.user + cpu.system) / 1e6
  const steps = Math.ceil(result.pairs.trainRows.length / 16) * epochs
  const angleSeconds = (end - (angleStart ?? end)) / 1000
  process.stdout.write(
    `  probes (${layers} layers):          ${(((angleStart ?? end) - start) / 1000).toFixed(1)} s\n` +
      `  angle networks (${layers} layers):  ${angleSeconds.toFixed(1)} s, ${steps} steps, ${((angleSeconds * 1000) / steps).toFixed(2)} ms/step\n` +
      `  total:                       ${((end - start) / 1000).toFixed(1)} s wall (target ≤ 60 s), ${cpuSeconds.toFixed(1)} s CPU ` +
      `(an idle machine with ${threads} cores needs between CPU/${threads} and CPU)\n` +
      `  final losses: probes ${result.probeLosses.at(-1)?.toFixed(4)}, angles ${result.angleLosses.at(-1)?.toFixed(4)}; ` +
      `validation accuracy ${result.probes.map((probe) => probe.accuracy.toFixed(3)).join(', ')}\n`,
  )
}
