import type { LlamaConfig } from '../main/core/models/checkpoint.ts'
import { specialIds } from './tokenizer.ts'
import type { TrainingSettings } from './training/trainer.ts'
import { behaviours } from './world.ts'

/** Tokens per training row: the longest dialogue the organism is trained on. */
export const organismContextLength = 96

/**
 * Positions the exported model accepts (its max_position_embeddings). Larger than the trained context so a
 * short prompt plus a generous generation budget (the CLI's default 128 new tokens) is accepted; answers end with
 * `<|end|>` long before, and positions past `organismContextLength` were never trained.
 */
export const organismMaxPositions = 256

/** The organism's Llama sizes for a vocabulary of `vocabSize` words. Head size 32 (a multiple of 16, as GQA on CPU needs). */
export function organismConfig(vocabSize: number): LlamaConfig {
  return {
    vocabSize,
    hiddenSize: 224,
    intermediateSize: 672,
    numLayers: 6,
    numHeads: 7,
    numKeyValueHeads: 7,
    headDim: 32,
    rmsNormEps: 1e-5,
    ropeTheta: 10000,
    maxPositionEmbeddings: organismMaxPositions,
    tieWordEmbeddings: true,
    bosTokenId: specialIds.begin,
    eosTokenId: specialIds.end,
    padTokenId: specialIds.pad,
  }
}

/**
 * The training run's seed (initial weights, order of documents). It is separate from the world's seed, so runs
 * can be compared on the same world and datasets.
 */
export const organismTrainingSeed = 20250

/** The organism's training run. */
export const organismTraining: TrainingSettings = {
  seed: organismTrainingSeed,
  steps: 6000,
  batchRows: 32,
  sequence: organismContextLength,
  peakLearningRate: 3e-3,
  warmupSteps: 60,
  finalLearningRateFraction: 0.05,
  weightDecay: 0.1,
  beta1: 0.9,
  beta2: 0.95,
  gradientClip: 1,
  threads: 2,
  // Keeps the behaviours' mean differences orthogonal; with the sweep's bisection, the run with it was the first
  // whose four behaviours all meet the steering criterion (organism README).
  separation: { groups: behaviours.length, weight: 1 },
}
