/**
 * `npm run bench -- hpr-train`: what HPR's training costs on activations of a 0.5B-class model.
 *
 * Synthetic per-token activations (a separable shift along one direction plus Gaussian noise) for `--layers`
 * candidate layers (default 5) of width `--width` (default 896), `--pairs` token pairs (default 20000, ten per
 * demonstration), trained for `--epochs` (default 5) at `--batch` pairs a step (default 16, the paper's): probes
 * for every layer, then angle networks (width → width/2 → width/4 → width/8 → 1) for all of them. Target: ≤ 60 s
 * on 2 cores. All layers share one activation matrix (the values do not change the cost), so memory stays at one
 * layer's. Prints each phase's wall and process CPU time, how much of it ONNX Runtime's `run` took (a timer around
 * every call; the rest is the JavaScript around it: batches, feeds, validation), and the load average, since the
 * development machine is shared. `--profile` instead runs ONNX Runtime's profiler on an angle training step and
 * prints where its kernel time goes, by part of the step and by operator, its CPU time and the fused AdamW's: for
 * the stacked gradient graph at each weight chunk size of `--chunks` (elements, comma-separated; `Infinity` = one
 * tensor per weight), the per-layer graph with AdamW in the graph too with `--per-layer`, all `--repeats` times in
 * turn.
 */
import { loadavg } from 'node:os'
import { parseArgs } from 'node:util'
import * as ort from 'onnxruntime-node'
import type { ActivationSet } from '../../src/shared/activations.ts'
import { paperAdamW } from '../../src/main/core/methods/hpr/training-settings.ts'
import { trainHpr } from '../../src/main/core/methods/hpr/training.ts'
import { readFileSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import {
  angleNames,
  angleParameters,
  buildAngleTrainingGraph,
} from '../../src/main/core/methods/hpr/angle-graph.ts'
import { FusedAdamW } from '../../src/main/core/methods/hpr/fused-adamw.ts'
import { optimizerScalars, stateNames, stepInput } from '../../src/main/core/methods/hpr/graph-pieces.ts'
import { buildStackedAngleGradientGraph } from '../../src/main/core/methods/hpr/stacked-angle-graph.ts'
import {
  stackedAngleNames,
  stackedAngleParameters,
} from '../../src/main/core/methods/hpr/stacked-angle-layout.ts'
import { optimizerBindings } from '../../src/main/core/methods/hpr/train-angles.ts'
import { angleWidths } from '../../src/main/core/methods/hpr/training.ts'
import { encodeModel } from '../../src/main/core/onnx/proto.ts'
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

interface ProfileEvent {
  cat: string
  name: string
  dur: number
  args?: { op_name?: string }
}

/** The part of a training step a node belongs to, from its scoped name (angle-graph.ts). */
function stepPart(node: string): string {
  for (const part of ['optimizer', 'forward', 'backward', 'loss']) if (node.includes(`/${part}`)) return part
  return 'other'
}

/** Steps a run of the per-layer graph's unrolled optimizer, as training ran it before the fused optimizer. */
const perLayerStepsPerRun = 8

/** A training step's measured parts, summed over the profiled runs. */
interface StepMeasure {
  steps: number
  runWall: number
  runCpu: number
  /** The fused AdamW after each run (stacked graph only). */
  optimizerWall: number
  optimizerCpu: number
}

/**
 * Profile an angle training step on random rows: the stacked gradient graph with the fused AdamW training uses
 * (`stacked`), or the per-layer graph with AdamW unrolled in the graph (`perLayerStepsPerRun` steps a run) it
 * replaced. ONNX Runtime's profiler sums the graph's kernel time by part of the step and by operator.
 */
async function profileAngleStep(problem: {
  layers: number
  width: number
  batch: number
  threads: number
  stacked: boolean
  /** Elements per weight chunk of the stacked graph (Infinity: one tensor per weight). */
  chunkElements: number
}): Promise<string> {
  const { layers, width, batch, threads, stacked, chunkElements } = problem
  const widths = angleWidths(width)
  const random = createRandom(2)
  const filled = (size: number, value?: number): Float32Array =>
    Float32Array.from({ length: size }, () => value ?? random.normal())
  const prefix = join(tmpdir(), `tiller-hpr-profile-${process.pid}`)
  const session = await ort.InferenceSession.create(
    encodeModel(
      stacked
        ? buildStackedAngleGradientGraph({ layers, widths, floatType: 'float32', chunkElements })
        : buildAngleTrainingGraph({
            layers,
            widths,
            floatType: 'float32',
            mode: 'train',
            adamW: paperAdamW,
            steps: perLayerStepsPerRun,
          }),
    ),
    {
      executionProviders: ['cpu'],
      intraOpNumThreads: threads,
      interOpNumThreads: 1,
      executionMode: 'sequential',
      graphOptimizationLevel: 'all',
      enableProfiling: true,
      profileFilePrefix: prefix,
      extra: { session: { intra_op: { allow_spinning: '0' }, inter_op: { allow_spinning: '0' } } },
    },
  )
  const rows = 2 * batch
  const steps = stacked ? 1 : perLayerStepsPerRun
  const feeds: Record<string, ort.Tensor> = {}
  const batchInputs = (names: { input: string; target: string; weight: string }, dims: number[]): void => {
    const size = dims.reduce((product, dim) => product * dim, 1)
    for (let step = 0; step < steps; step++) {
      feeds[stepInput(names.input, step)] = new ort.Tensor('float32', filled(size * width), [...dims, width])
      feeds[stepInput(names.target, step)] = new ort.Tensor('float32', filled(size, 1), dims)
      feeds[stepInput(names.weight, step)] = new ort.Tensor('float32', filled(size, 1 / rows), dims)
    }
  }
  const initial = (dims: number[]): Float32Array =>
    filled(dims.reduce((product, dim) => product * dim, 1)).map((value) => value * 0.02)
  let optimizer: FusedAdamW | undefined
  let fetches: Record<string, ort.Tensor | null> = {}
  if (stacked) {
    const parameters = new Map(
      stackedAngleParameters(layers, widths, chunkElements).map((tensor) => [
        tensor.name,
        { values: initial(tensor.dims), dims: tensor.dims },
      ]),
    )
    optimizer = new FusedAdamW(parameters, paperAdamW)
    const bindings = optimizerBindings(optimizer)
    Object.assign(feeds, bindings.parameters)
    fetches = bindings.fetches
    batchInputs(stackedAngleNames, [layers, rows])
  } else {
    for (let slot = 0; slot < layers; slot++) {
      for (const [name, dims] of angleParameters(slot, widths)) {
        const names = stateNames(name)
        const size = dims.reduce((product, dim) => product * dim, 1)
        feeds[name] = new ort.Tensor('float32', initial(dims), dims)
        feeds[names.first] = new ort.Tensor('float32', filled(size, 0), dims)
        feeds[names.second] = new ort.Tensor('float32', filled(size, 0), dims)
      }
      batchInputs(
        { input: angleNames.input(slot), target: angleNames.target(slot), weight: angleNames.weight(slot) },
        [rows],
      )
    }
    for (let step = 0; step < steps; step++) {
      for (const [name, value] of Object.entries(optimizerScalars(paperAdamW, step + 1, 5e-4)))
        feeds[stepInput(name, step)] = new ort.Tensor('float32', new Float32Array([value]), [])
    }
  }
  const runs = stacked ? 40 : 5
  const measure: StepMeasure = {
    steps: runs * steps,
    runWall: 0,
    runCpu: 0,
    optimizerWall: 0,
    optimizerCpu: 0,
  }
  for (let index = 0; index <= runs; index++) {
    const start = performance.now()
    const startCpu = process.cpuUsage()
    await session.run(feeds, stacked ? fetches : undefined)
    const used = process.cpuUsage(startCpu)
    const optimizerStart = performance.now()
    optimizer?.step(5e-4)
    const optimizerUsed = process.cpuUsage(startCpu)
    // The first run allocates the arena; it is left out.
    if (index > 0) {
      measure.runWall += optimizerStart - start
      measure.runCpu += (used.user + used.system) / 1000
      measure.optimizerWall += performance.now() - optimizerStart
      measure.optimizerCpu += (optimizerUsed.user + optimizerUsed.system - used.user - used.system) / 1000
    }
  }
  session.endProfiling()
  await session.release()
  return profileReport(prefix, measure, {
    title: stacked
      ? `stacked angle gradient graph and fused AdamW (weight chunks of ${chunkElements} elements)`
      : `per-layer angle training graph (AdamW in the graph, ${steps} steps a run)`,
    layers,
    width,
    batch,
    threads,
    runs,
  })
}

/** Read the profile ONNX Runtime wrote at `prefix` and describe a step's time. */
function profileReport(
  prefix: string,
  measure: StepMeasure,
  problem: { title: string; layers: number; width: number; batch: number; threads: number; runs: number },
): string {
  // ONNX Runtime names the file `<prefix>_<time>.json`.
  const name = readdirSync(tmpdir()).find((entry) => entry.startsWith(`tiller-hpr-profile-${process.pid}_`))
  if (name === undefined) throw new Error(`hpr-train: ONNX Runtime wrote no profile next to ${prefix}`)
  const file = join(tmpdir(), name)
  const events = JSON.parse(readFileSync(file, 'utf8')) as ProfileEvent[]
  rmSync(file, { force: true })
  const byPart = new Map<string, number>()
  const byOperator = new Map<string, number>()
  let kernels = 0
  let first = true
  for (const event of events) {
    if (event.cat === 'Session' && event.name === 'model_run') first = false
    if (first || event.cat !== 'Node' || !event.name.endsWith('_kernel_time')) continue
    const node = event.name.slice(0, -'_kernel_time'.length)
    byPart.set(stepPart(node), (byPart.get(stepPart(node)) ?? 0) + event.dur)
    const operator = event.args?.op_name ?? '?'
    byOperator.set(operator, (byOperator.get(operator) ?? 0) + event.dur)
    kernels += event.dur
  }
  // Kernel durations are microseconds, summed over the profiled runs.
  const perStep = (microseconds: number): string => `${(microseconds / 1000 / measure.steps).toFixed(2)} ms`
  const milliseconds = (total: number): string => `${(total / measure.steps).toFixed(2)} ms`
  const share = (microseconds: number): string => `${((100 * microseconds) / kernels).toFixed(0)} %`
  const table = (title: string, entries: Map<string, number>): string =>
    `  ${title}\n` +
    [...entries]
      .sort((a, b) => b[1] - a[1])
      .map(
        ([name, time]) => `    ${name.padEnd(12)} ${perStep(time).padStart(9)} ${share(time).padStart(5)}\n`,
      )
      .join('')
  const fused =
    measure.optimizerWall > 0
      ? `; fused AdamW ${milliseconds(measure.optimizerCpu)} CPU and ${milliseconds(measure.optimizerWall)} wall`
      : ''
  return (
    `hpr-train --profile: ${problem.title}, ${problem.layers} layers of width ${problem.width}, ` +
    `${problem.batch} pairs a step, ${problem.threads} threads, ${problem.runs} runs; load average ${load()}\n` +
    `  a step: ${milliseconds(measure.runCpu)} CPU and ${milliseconds(measure.runWall)} wall in run, ` +
    `${perStep(kernels)} in kernels (the rest: launching nodes, feeds and outputs)${fused}\n` +
    table('by part of the step', byPart) +
    table('by operator', byOperator)
  )
}

/** Wall and CPU time of the process since `start()`, and the wall time of ONNX Runtime's calls within it. */
class PhaseClock {
  private wall = 0
  private cpu = process.cpuUsage()
  runWall = 0
  runs = 0
  createWall = 0

  start(): void {
    this.wall = performance.now()
    this.cpu = process.cpuUsage()
    this.runWall = 0
    this.runs = 0
    this.createWall = 0
  }

  report(name: string, runtime = true): string {
    const cpu = process.cpuUsage(this.cpu)
    const wall = (performance.now() - this.wall) / 1000
    const calls = runtime
      ? `; ${(this.createWall / 1000).toFixed(1)} s opening sessions, ${this.runs} runs taking ` +
        `${(this.runWall / 1000).toFixed(1)} s`
      : ''
    return `  ${name.padEnd(26)} ${wall.toFixed(1)} s wall, ${((cpu.user + cpu.system) / 1e6).toFixed(1)} s CPU${calls}\n`
  }
}

/** Time every `InferenceSession.create` and `run` into `clock` (wall time: the calls are asynchronous). */
function timeRuntime(clock: PhaseClock): () => void {
  const factory = ort.InferenceSession as unknown as {
    prototype: ort.InferenceSession
    create: (...args: unknown[]) => Promise<ort.InferenceSession>
  }
  const prototype = factory.prototype
  const originalRun = prototype.run
  const originalCreate = factory.create
  prototype.run = async function (this: ort.InferenceSession, ...args: Parameters<typeof originalRun>) {
    const start = performance.now()
    try {
      return await originalRun.apply(this, args)
    } finally {
      clock.runWall += performance.now() - start
      clock.runs++
    }
  } as typeof originalRun
  factory.create = async (...args: unknown[]) => {
    const start = performance.now()
    try {
      return await originalCreate.apply(ort.InferenceSession, args)
    } finally {
      clock.createWall += performance.now() - start
    }
  }
  return () => {
    prototype.run = originalRun
    factory.create = originalCreate
  }
}

const load = (): string =>
  loadavg()
    .map((value) => value.toFixed(1))
    .join(' ')

/** Run the benchmark. */
export async function run(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      pairs: { type: 'string', default: '20000' },
      width: { type: 'string', default: '896' },
      layers: { type: 'string', default: '5' },
      epochs: { type: 'string', default: '5' },
      batch: { type: 'string', default: '16' },
      threads: { type: 'string', default: '2' },
      profile: { type: 'boolean', default: false },
      chunks: { type: 'string', default: 'Infinity,262144' },
      'per-layer': { type: 'boolean', default: false },
      repeats: { type: 'string', default: '1' },
    },
  })
  const [pairs, width, layers, epochs, batch, threads] = [
    values.pairs,
    values.width,
    values.layers,
    values.epochs,
    values.batch,
    values.threads,
  ].map(Number) as [number, number, number, number, number, number]
  if (values.profile) {
    // The graphs back to back, the per-layer one first: same load, same random rows.
    const chunks = values.chunks.split(',').map(Number)
    for (let repeat = 0; repeat < Number(values.repeats); repeat++) {
      if (values['per-layer'])
        process.stdout.write(
          await profileAngleStep({ layers, width, batch, threads, stacked: false, chunkElements: 0 }),
        )
      for (const chunkElements of chunks) {
        process.stdout.write(
          await profileAngleStep({ layers, width, batch, threads, stacked: true, chunkElements }),
        )
      }
    }
    return
  }
  const activations = syntheticActivations(pairs, width, layers)
  process.stdout.write(
    `hpr-train: ${pairs} token pairs, ${layers} layers of width ${width}, ${epochs} epochs, ${batch} pairs a ` +
      `step, ${threads} threads; load average ${load()}\n`,
  )
  const total = new PhaseClock()
  const phase = new PhaseClock()
  const restore = timeRuntime(phase)
  let probeReport = ''
  total.start()
  phase.start()
  const result = await trainHpr(
    activations,
    {
      epochs,
      batchSize: batch,
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
        if (probeReport !== '' || !message.startsWith('angle')) return
        // The first angle report comes after the first angle run: close the probe phase just before it.
        probeReport = phase.report(`probes (${layers} layers):`)
        phase.start()
      },
    },
  ).finally(restore)
  const angleReport = phase.report(`angle networks (${layers}):`)
  const steps = Math.ceil(result.pairs.trainRows.length / batch) * epochs
  process.stdout.write(
    probeReport +
      angleReport +
      total.report('total:', false) +
      `  ${steps} steps a phase; target: 20 k pairs × 5 epochs ≤ 60 s on 2 cores (an idle machine needs between ` +
      `CPU/${threads} and CPU)\n` +
      `  final losses: probes ${result.probeLosses.at(-1)?.toFixed(4)}, angles ${result.angleLosses.at(-1)?.toFixed(4)}; ` +
      `validation accuracy ${result.probes.map((probe) => probe.accuracy.toFixed(3)).join(', ')}\n` +
      `  load average after: ${load()}\n`,
  )
}
