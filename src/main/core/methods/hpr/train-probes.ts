/**
 * Phase 1 of HPR's fit: a probe θ for every candidate layer, trained jointly in one ONNX graph (probe-graph.ts),
 * each layer's best epoch chosen by its validation probe accuracy (METHODS.md §2.5–2.6; ties: the later epoch).
 */
import type * as ort from 'onnxruntime-node'
import type { FitContext } from '../method.ts'
import { GraphOptimizer, floatTensor, openSession } from './graph-session.ts'
import { initialProbes } from './initialization.ts'
import { buildProbeEvaluationGraph, buildProbeTrainingGraph, probeNames } from './probe-graph.ts'
import { learningRateAt, learningRateSchedule } from './schedule.ts'
import type { LayerPairs, TokenPairs } from './token-pairs.ts'
import { copyRow, epochBatches, throwIfCancelled, type HprTrainingSettings } from './training-settings.ts'

/** A trained probe of one layer. */
export interface ProbeResult {
  layer: number
  /** θ at the best epoch [width]. */
  probe: Float32Array
  /** Validation accuracy at the best epoch (positives and negatives pooled, threshold θᵀa > 0). */
  accuracy: number
  /** 0-based epoch the probe comes from. */
  bestEpoch: number
}

/** The probe phase's outcome. */
export interface ProbePhase {
  probes: ProbeResult[]
  /** Mean training loss (BCE averaged over layers) of each epoch. */
  epochLosses: number[]
}

/** Reports progress of one phase: `step` of `steps`, with the epoch and last mean loss in the message. */
export type PhaseProgress = (step: number, steps: number, message: string) => void

/**
 * AdamW steps unrolled per run of the probe graph: a probe step is a few small products, so the run's fixed cost
 * (feeds, launch, outputs) would dominate a run of one step.
 */
export const probeStepsPerRun = 16

/** One step's feeds: a⁺ and a⁻ rows of `batch` at every layer [layers, batch, width] and the pair weights. */
function probeBatch(
  layers: LayerPairs[],
  batch: readonly number[],
  width: number,
): Record<string, ort.Tensor> {
  const count = layers.length
  const size = batch.length
  const positive = new Float32Array(count * size * width)
  const negative = new Float32Array(count * size * width)
  const weights = new Float32Array(count * size)
  layers.forEach((entry, slot) => {
    let kept = 0
    for (const row of batch) kept += entry.kept[row] as number
    batch.forEach((row, index) => {
      copyRow(entry.positive, row, width, positive, (slot * size + index) * width)
      copyRow(entry.negative, row, width, negative, (slot * size + index) * width)
      if (entry.kept[row] === 1) weights[slot * size + index] = 1 / (2 * kept * count)
    })
  })
  return {
    [probeNames.positive]: floatTensor(positive, [count, size, width]),
    [probeNames.negative]: floatTensor(negative, [count, size, width]),
    [probeNames.pairWeights]: floatTensor(weights, [count, size]),
  }
}

/** Validation accuracy of every layer's probe, counting kept rows only; logits from the evaluation graph. */
async function validationAccuracy(
  session: ort.InferenceSession,
  layers: LayerPairs[],
  rows: readonly number[],
  width: number,
  probes: Float32Array,
): Promise<number[]> {
  const correct = new Array<number>(layers.length).fill(0)
  const chunk = 512
  for (let start = 0; start < rows.length; start += chunk) {
    const part = rows.slice(start, start + chunk)
    const count = part.length
    // Positive rows then negative rows per layer: [layers, 2·count, width].
    const stacked = new Float32Array(layers.length * 2 * count * width)
    layers.forEach((pairs, slot) => {
      part.forEach((row, index) => {
        copyRow(pairs.positive, row, width, stacked, ((slot * 2 + 0) * count + index) * width)
        copyRow(pairs.negative, row, width, stacked, ((slot * 2 + 1) * count + index) * width)
      })
    })
    const outputs = await session.run({
      [probeNames.rows]: floatTensor(stacked, [layers.length, 2 * count, width]),
      [probeNames.probe]: floatTensor(probes, [layers.length, width]),
    })
    const logits = outputs[probeNames.logits]?.data as Float32Array
    layers.forEach((pairs, slot) => {
      part.forEach((row, index) => {
        if (pairs.kept[row] === 0) return
        // round(σ(z)) with round(0.5) = 0: positive iff z > 0.
        const positiveRight = (logits[slot * 2 * count + index] as number) > 0
        const negativeRight = !((logits[slot * 2 * count + count + index] as number) > 0)
        correct[slot] = (correct[slot] as number) + Number(positiveRight) + Number(negativeRight)
      })
    })
  }
  return layers.map((pairs, slot) => (correct[slot] as number) / (2 * pairs.keptValidation))
}

/** Train probes for `layers` (each with kept training and validation pairs). */
export async function trainProbes(
  pairs: TokenPairs,
  layers: LayerPairs[],
  settings: HprTrainingSettings,
  context: FitContext,
  progress: PhaseProgress,
): Promise<ProbePhase> {
  const { width } = pairs
  const count = layers.length
  // One session per unrolled step count: `probeStepsPerRun` for most runs, fewer for an epoch's last.
  const trainers = new Map<number, ort.InferenceSession>()
  const trainer = async (steps: number): Promise<ort.InferenceSession> => {
    const existing = trainers.get(steps)
    if (existing !== undefined) return existing
    const model = buildProbeTrainingGraph({
      layers: count,
      width,
      floatType: 'float32',
      mode: 'train',
      adamW: settings.adamW,
      steps,
    })
    const session = await openSession(model, settings.threads)
    trainers.set(steps, session)
    return session
  }
  const evaluator = await openSession(buildProbeEvaluationGraph(count, width), settings.threads)
  try {
    const probe = {
      values: initialProbes(
        layers.map((entry) => entry.layer),
        width,
        settings.seed,
      ),
      dims: [count, width],
    }
    const stepsPerEpoch = Math.ceil(pairs.trainRows.length / settings.batchSize)
    const optimizer = new GraphOptimizer(
      await trainer(Math.min(probeStepsPerRun, stepsPerEpoch)),
      new Map([[probeNames.probe, probe]]),
      settings.adamW,
    )
    const totalSteps = stepsPerEpoch * settings.epochs
    const schedule = learningRateSchedule(
      settings.schedule,
      settings.learningRate,
      settings.warmupRatio,
      totalSteps,
    )
    const best: ProbeResult[] = layers.map((entry) => ({
      layer: entry.layer,
      probe: new Float32Array(width),
      accuracy: -1,
      bestEpoch: -1,
    }))
    const epochLosses: number[] = []
    let step = 0
    for (let epoch = 0; epoch < settings.epochs; epoch++) {
      let lossSum = 0
      const batches = epochBatches(pairs.trainRows, settings.batchSize, settings.seed, epoch)
      for (let start = 0; start < batches.length; start += probeStepsPerRun) {
        throwIfCancelled(context)
        const run = batches.slice(start, start + probeStepsPerRun)
        const feeds = run.map((batch) => probeBatch(layers, batch, width))
        const rates = run.map((_, index) => learningRateAt(schedule, step + index))
        const losses = await optimizer.steps(await trainer(run.length), feeds, rates)
        lossSum += losses.reduce((sum, loss) => sum + loss, 0)
        step += run.length
        progress(
          step,
          totalSteps,
          `probes: epoch ${epoch + 1}/${settings.epochs}, loss ${(lossSum / (step - epoch * stepsPerEpoch)).toFixed(4)}`,
        )
      }
      epochLosses.push(lossSum / batches.length)
      const current = (optimizer.parameters.get(probeNames.probe) as { values: Float32Array }).values
      const accuracies = await validationAccuracy(evaluator, layers, pairs.validationRows, width, current)
      accuracies.forEach((accuracy, slot) => {
        const entry = best[slot] as ProbeResult
        // Ties go to the later epoch: same accuracy, more training (a wider margin).
        if (accuracy >= entry.accuracy) {
          entry.accuracy = accuracy
          entry.bestEpoch = epoch
          entry.probe = current.slice(slot * width, (slot + 1) * width)
        }
      })
    }
    return { probes: best, epochLosses }
  } finally {
    for (const session of trainers.values()) await session.release()
    await evaluator.release()
  }
}
