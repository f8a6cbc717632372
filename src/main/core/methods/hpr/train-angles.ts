/**
 * Phase 2 of HPR's fit: the angle networks f_angle = π·sigmoid(MLP) of the selected layers, trained jointly against the
 * target angles g(a⁻, a⁺) for negatives and g(a⁺, a⁺) ≈ 0 for positives: one ONNX graph computes every layer's loss and
 * gradients with the weights stacked per Linear layer (stacked-angle-graph.ts), and the fused AdamW kernel
 * (fused-adamw.ts) updates them in place, one run and one kernel call a step. Each layer keeps the network of the epoch
 * with the lowest validation angle error. (The released code keeps one checkpoint of all modules chosen by probe
 * accuracy; probes and angle networks share no parameters, so each is chosen here by its own validation measure — an
 * easily separated layer's probe peaks in the first epoch, long before its angle network has learned anything.)
 */
import type * as ort from 'onnxruntime-node'
import type { FitContext } from '../method.ts'
import { FusedAdamW } from './fused-adamw.ts'
import { floatTensor, openSession, type GraphParameter } from './graph-session.ts'
import { initialAngleValues } from './initialization.ts'
import { gradientOutput } from './probe-graph.ts'
import { buildStackedAngleEvaluationGraph, buildStackedAngleGradientGraph } from './stacked-angle-graph.ts'
import { stackAngleNetworks, stackedAngleNames, unstackAngleNetwork } from './stacked-angle-layout.ts'
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
 * The gradient graph's bindings to `optimizer`'s memory: the parameters as feeds and the gradients as pre-allocated
 * outputs (the loss left to the runtime), so a run reads and writes the optimizer's arrays directly.
 */
export function optimizerBindings(optimizer: FusedAdamW): {
  parameters: Record<string, ort.Tensor>
  fetches: Record<string, ort.Tensor | null>
} {
  const parameters: Record<string, ort.Tensor> = {}
  for (const [name, parameter] of optimizer.parameters)
    parameters[name] = floatTensor(parameter.values, parameter.dims)
  const fetches: Record<string, ort.Tensor | null> = { [stackedAngleNames.loss]: null }
  for (const [name, gradient] of optimizer.gradients)
    fetches[gradientOutput(name)] = floatTensor(gradient.values, gradient.dims)
  return { parameters, fetches }
}

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

/**
 * A batch as fed to the stacked graphs: for every layer its a⁺ rows then its a⁻ rows, input [layers, 2·rows,
 * width], targets and loss weights [layers, 2·rows] (weight 1 / (2·kept·`weightLayers`), 0 for dropped pairs).
 */
function stackBatch(
  tasks: readonly LayerPairs[],
  goals: readonly Goal[],
  rows: readonly number[],
  width: number,
  weightLayers: number,
): { input: Float32Array; target: Float32Array; weight: Float32Array } {
  const size = rows.length
  const input = new Float32Array(tasks.length * 2 * size * width)
  const target = new Float32Array(tasks.length * 2 * size)
  const weight = new Float32Array(tasks.length * 2 * size)
  tasks.forEach((pairs, slot) => {
    const goal = goals[slot] as Goal
    const first = slot * 2 * size
    let kept = 0
    for (const row of rows) kept += pairs.kept[row] as number
    rows.forEach((row, index) => {
      copyRow(pairs.positive, row, width, input, (first + index) * width)
      copyRow(pairs.negative, row, width, input, (first + size + index) * width)
      target[first + index] = goal.positive[row] as number
      target[first + size + index] = goal.negative[row] as number
      if (pairs.kept[row] === 1) {
        weight[first + index] = 1 / (2 * kept * weightLayers)
        weight[first + size + index] = 1 / (2 * kept * weightLayers)
      }
    })
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
  const layers = tasks.length
  const sums = new Array<number>(layers).fill(0)
  const chunk = 512
  for (let start = 0; start < rows.length; start += chunk) {
    const part = rows.slice(start, start + chunk)
    const feeds: Record<string, ort.Tensor> = {}
    for (const [name, parameter] of parameters) feeds[name] = floatTensor(parameter.values, parameter.dims)
    const stack = stackBatch(tasks, goals, part, width, 1)
    feeds[stackedAngleNames.input] = floatTensor(stack.input, [layers, 2 * part.length, width])
    const outputs = await session.run(feeds)
    // [layers, 2·rows]
    const angles = outputs[stackedAngleNames.angle]?.data as Float32Array
    for (let index = 0; index < angles.length; index++) {
      if (stack.weight[index] === 0) continue
      const slot = Math.floor(index / (2 * part.length))
      sums[slot] = (sums[slot] as number) + ((angles[index] as number) - (stack.target[index] as number)) ** 2
    }
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
  const trainer = await openSession(
    buildStackedAngleGradientGraph({ layers: count, widths, floatType: 'float32' }),
    settings.threads,
  )
  const evaluator = await openSession(buildStackedAngleEvaluationGraph(count, widths), settings.threads)
  try {
    const optimizer = new FusedAdamW(
      stackAngleNetworks(
        tasks.map((task) => initialAngleValues(task.layer, widths, settings.seed)),
        widths,
      ),
      settings.adamW,
    )
    const goals = tasks.map((task) => targets(task, pairs.rows, width))
    const bindings = optimizerBindings(optimizer)
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
      for (const batch of batches) {
        throwIfCancelled(context)
        const stack = stackBatch(tasks, goals, batch, width, count)
        const rows = 2 * batch.length
        const outputs = await trainer.run(
          {
            ...bindings.parameters,
            [stackedAngleNames.input]: floatTensor(stack.input, [count, rows, width]),
            [stackedAngleNames.target]: floatTensor(stack.target, [count, rows]),
            [stackedAngleNames.weight]: floatTensor(stack.weight, [count, rows]),
          },
          bindings.fetches,
        )
        lossSum += Number((outputs[stackedAngleNames.loss]?.data as Float32Array)[0])
        optimizer.step(learningRateAt(schedule, step))
        step++
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
        networks[slot] = {
          layer: task.layer,
          ...unstackAngleNetwork(optimizer.parameters, slot, widths),
          validationError: error,
          keptEpoch: epoch,
        }
      })
    }
    return { networks: networks.map((network) => network as AngleResult), epochLosses }
  } finally {
    await trainer.release()
    await evaluator.release()
  }
}
