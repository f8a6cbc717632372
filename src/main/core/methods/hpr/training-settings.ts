/**
 * What decides an HPR training run besides the data, and the shared loop machinery of its two phases (probes for
 * every candidate layer, then angle networks for the selected layers): per-epoch shuffles, batches, cancellation
 * and progress.
 */
import { TillerError } from '../../errors.ts'
import { createRandom } from '../../random-streams.ts'
import type { FitContext } from '../method.ts'
import type { AdamWConstants } from './graph-pieces.ts'
import type { ScheduleKind } from './schedule.ts'

/** Settings of both training phases (METHODS.md §2.5). */
export interface HprTrainingSettings {
  epochs: number
  /** Token pairs per step (each pair gives one positive and one negative row). */
  batchSize: number
  learningRate: number
  warmupRatio: number
  schedule: ScheduleKind
  adamW: AdamWConstants
  seed: number
  /** ONNX Runtime intra-op threads; results are deterministic for a fixed count. */
  threads: number
}

/** The paper's AdamW constants (Hugging Face defaults): β = (0.9, 0.999), ε = 1e-8, no weight decay. */
export const paperAdamW: AdamWConstants = { beta1: 0.9, beta2: 0.999, epsilon: 1e-8, weightDecay: 0 }

/** The training rows of `epoch` in a seeded order, cut into batches of `batchSize` (the last may be shorter). */
export function epochBatches(
  rows: readonly number[],
  batchSize: number,
  seed: number,
  epoch: number,
): number[][] {
  const order = createRandom(seed).fork(`hpr:epoch:${epoch}`).shuffled(rows)
  const batches: number[][] = []
  for (let start = 0; start < order.length; start += batchSize)
    batches.push(order.slice(start, start + batchSize))
  return batches
}

/** Throw `cancelled` when the fit's signal has aborted. */
export function throwIfCancelled(context: FitContext): void {
  if (context.signal?.aborted === true) throw new TillerError('cancelled', 'The hpr fit was cancelled.')
}

/** Copy row `row` of a `[rows, width]` matrix into `target` at `offset`. */
export function copyRow(
  source: Float32Array,
  row: number,
  width: number,
  target: Float32Array,
  offset: number,
): void {
  target.set(source.subarray(row * width, (row + 1) * width), offset)
}
