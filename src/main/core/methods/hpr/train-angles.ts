/**
 * Phase 2 of HPR's fit: the angle networks f_angle = π·sigmoid(MLP) of the selected layers, trained jointly in one
 * ONNX graph (angle-graph.ts) against the target angles g(a⁻, a⁺) for negatives and g(a⁺, a⁺) ≈ 0 for positives.
 * Each layer keeps the network of the epoch with the lowest validation angle error. (The released code keeps one
 * checkpoint of all modules chosen by probe accuracy; probes and angle networks share no parameters, so each is
 * chosen here by its own validation measure — an easily separated layer's probe peaks in the first epoch, long
 * before its angle network has learned anything.)
 */
import type * as ort from 'onnxruntime-node'
import type { FitContext } from '../method.ts'
import { angleNames, buildAngleEvaluationGraph, buildAngleTrainingGraph } from './angle-graph.ts'
import { GraphOptimizer, floatTensor, openSession, type GraphParameter } from './graph-session.ts'
import { initialAngleNetwork } from './initialization.ts'
import { learningRateAt, learningRateSchedule } from './schedule.ts'
import { clampedAngle, type LayerPairs, type TokenPairs } from './token-pairs.ts'
import type { PhaseProgress } from './train-probes.ts'
import { copyRow, epochBatches, throwIfCancelled, type HprTrainingSettings } from './training-settings.ts'

/** A trained angle network. */
export interface AngleResult {
  layer: number
  /** Linear layer i's weight [widths[i + 1], widths[i]] row-major. */
  weights: Float32Array[]
  biases: Float32Array[]
  /** Mean squared angle error on the kept validation rows (both sides) at the kept epoch (the lowest). */
  validationError: number
  keptEpoch: number
}

/** The angle phase's outcome. */
export interface AnglePhase {
  networks: AngleResult[]
  /** Mean training loss (squared angle error averaged over layers) of each epoch. */
  epochLosses: number[]
}

/**
 * Optimizer steps unrolled per graph run: the parameters and moments cross into and out of the runtime once per
 * run instead of once per step.
 */
export const stepsPerRun = 8

/** Target angles per token row of each side. */
interface Goal {
  positive: Float32Array
  negative: Float32Array
}

/** Targets per row: g(a⁻, a⁺) for the negative side, g(a⁺, a⁺) for the positive side. */
function targets(pairs: LayerPairs, rows: number, width: number): Goal {
  const positive = new Float32Array(rows)
  const negative = new Float32Array(rows)
  for (let row = 0; row < rows; row++) {
    positive[row] = clampedAngle(pairs.positive, row * width, pairs.positive, row * width, width)
    negative[row] = clampedAngle(pairs.negative, row * width, pairs.positive, row * width, width)
  }
  return { positive, negative }
}

/** Rows of one layer as fed to an angle graph: a⁺ rows then a⁻ rows [2·rows, width], their targets and weights. */
function stackRows(
  pairs: LayerPairs,
  goal: Goal,
  rows: readonly number[],
  width: number,
  layerCount: number,
): { input: Float32Array; target: Float32Array; weight: Float32Array } {
  const size = rows.length
  const input = new Float32Array(2 * size * width)
  const target = new Float32Array(2 * size)
  const weight = new Float32Array(2 * size)
  let kept = 0
  for (const row of rows) kept += pairs.kept[row] as number
  rows.forEach((row, index) => {
    copyRow(pairs.positive, row, width, input, index * width)
    copyRow(pairs.negative, row, width, input, (size + index) * width)
    target[index] = goal.positive[row] as number
    target[size + index] = goal.negative[row] as number
    if (pairs.kept[row] === 1) {
      weight[index] = 1 / (2 * kept * layerCount)
      weight[size + index] = 1 / (2 * kept * layerCount)
    }
  })
  return { input, target, weight }
}

/** Mean squared angle error of each layer's network over the kept validation rows (both sides). */
async function validationErrors(
  session: ort.InferenceSession,
  tasks: LayerPairs[],
  goals: Goal[],
  rows: readonly number[],
  widths: readonly number[],
  parameters: Map<string, GraphParameter>,
): Promise<number[]> {
  const width = widths[0] as number
  const sums = new Array<number>(tasks.length).fill(0)
  const chunk = 512
  for (let start = 0; start < rows.length; start += chunk) {
    const part = rows.slice(start, start + chunk)
    const feeds: Record<string, ort.Tensor> = {}
    for (const [name, parameter] of parameters) feeds[name] = floatTensor(parameter.values, parameter.dims)
    const stacks = tasks.map((task, slot) => stackRows(task, goals[slot] as Goal, part, width, 1))
    stacks.forEach((stack, slot) => {
      feeds[angleNames.input(slot)] = floatTensor(stack.input, [2 * part.length, width])
    })
    const outputs = await session.run(feeds)
    stacks.forEach((stack, slot) => {
      const angles = outputs[angleNames.angle(slot)]?.data as Float32Array
      for (let index = 0; index < angles.length; index++) {
        if (stack.weight[index] === 0) continue
        sums[slot] =
          (sums[slot] as number) + ((angles[index] as number) - (stack.target[index] as number)) ** 2
      }
    })
  }
  return tasks.map((task, slot) => (sums[slot] as number) / (2 * task.keptValidation))
}

/** Train angle networks of `widths` for `tasks`. */
export async function trainAngles(
  pairs: TokenPairs,
  tasks: LayerPairs[],
  widths: readonly number[],
  settings: HprTrainingSettings,
  context: FitContext,
  progress: PhaseProgress,
): Promise<AnglePhase> {
  const { width } = pairs
  const count = tasks.length
  const stepsPerEpoch = Math.ceil(pairs.trainRows.length / settings.batchSize)
  const totalSteps = stepsPerEpoch * settings.epochs
  progress(0, totalSteps, 'angle networks: building the training graph')
  // One session per unrolled step count: `stepsPerRun` for most runs, fewer for an epoch's last.
  const trainers = new Map<number, ort.InferenceSession>()
  const trainer = async (steps: number): Promise<ort.InferenceSession> => {
    const existing = trainers.get(steps)
    if (existing !== undefined) return existing
    const model = buildAngleTrainingGraph({
      layers: count,
      widths,
      floatType: 'float32',
      mode: 'train',
      adamW: settings.adamW,
      steps,
    })
    const session = await openSession(model, settings.threads)
    trainers.set(steps, session)
    return session
  }
  const evaluator = await openSession(buildAngleEvaluationGraph(count, widths), settings.threads)
  try {
    const parameters = new Map<string, GraphParameter>()
    tasks.forEach((task, slot) => {
      for (const [name, parameter] of initialAngleNetwork(task.layer, slot, widths, settings.seed)) {
        parameters.set(name, parameter)
      }
    })
    const goals = tasks.map((task) => targets(task, pairs.rows, width))
    const optimizer = new GraphOptimizer(
      await trainer(Math.min(stepsPerRun, stepsPerEpoch)),
      parameters,
      settings.adamW,
    )
    const schedule = learningRateSchedule(
      settings.schedule,
      settings.learningRate,
      settings.warmupRatio,
      totalSteps,
    )
    const networks: Array<AngleResult | undefined> = tasks.map(() => undefined)
    const epochLosses: number[] = []
    let step = 0
    for (let epoch = 0; epoch < settings.epochs; epoch++) {
      let lossSum = 0
      const batches = epochBatches(pairs.trainRows, settings.batchSize, settings.seed, epoch)
      for (let start = 0; start < batches.length; start += stepsPerRun) {
        throwIfCancelled(context)
        const run = batches.slice(start, start + stepsPerRun)
        const feeds = run.map((batch) => {
          const feed: Record<string, ort.Tensor> = {}
          tasks.forEach((task, slot) => {
            const stack = stackRows(task, goals[slot] as Goal, batch, width, count)
            feed[angleNames.input(slot)] = floatTensor(stack.input, [2 * batch.length, width])
            feed[angleNames.target(slot)] = floatTensor(stack.target, [2 * batch.length])
            feed[angleNames.weight(slot)] = floatTensor(stack.weight, [2 * batch.length])
          })
          return feed
        })
        const rates = run.map((_, index) => learningRateAt(schedule, step + index))
        const losses = await optimizer.steps(await trainer(run.length), feeds, rates)
        lossSum += losses.reduce((sum, loss) => sum + loss, 0)
        step += run.length
        progress(
          step,
          totalSteps,
          `angle networks: epoch ${epoch + 1}/${settings.epochs}, loss ${(lossSum / (step - epoch * stepsPerEpoch)).toFixed(4)}`,
        )
      }
      epochLosses.push(lossSum / batches.length)
      const errors = await validationErrors(
        evaluator,
        tasks,
        goals,
        pairs.validationRows,
        widths,
        optimizer.parameters,
      )
      tasks.forEach((task, slot) => {
        const error = errors[slot] as number
        const kept = networks[slot]
        if (kept !== undefined && !(error < kept.validationError)) return
        const current = (name: string): Float32Array =>
          (optimizer.parameters.get(name) as GraphParameter).values.slice()
        const linears = widths.length - 1
        networks[slot] = {
          layer: task.layer,
          weights: Array.from({ length: linears }, (_, linear) =>
            current(angleNames.linearWeight(slot, linear)),
          ),
          biases: Array.from({ length: linears }, (_, linear) =>
            current(angleNames.linearBias(slot, linear)),
          ),
          validationError: error,
          keptEpoch: epoch,
        }
      })
    }
    return { networks: networks.map((network) => network as AngleResult), epochLosses }
  } finally {
    for (const session of trainers.values()) await session.release()
    await evaluator.release()
  }
}
