import type { LlamaConfig } from '../../main/core/models/checkpoint.ts'
import { packBatch } from './batches.ts'
import { AdamW, gradientNorm, scheduledLearningRate } from './optimizer.ts'
import { initializeParameters, type Parameters } from './parameters.ts'
import { contrastWeights, type ContrastSpan, type SeparationSettings } from './separation-term.ts'
import { createStepRunner } from './step-runner.ts'

/** Everything that decides a training run besides the data. */
export interface TrainingSettings {
  seed: number
  steps: number
  /** Rows per batch; each row packs several documents. */
  batchRows: number
  /** Tokens per row (the context length trained). */
  sequence: number
  peakLearningRate: number
  warmupSteps: number
  finalLearningRateFraction: number
  weightDecay: number
  beta1: number
  beta2: number
  /** Gradients are scaled down when their global norm exceeds this. */
  gradientClip: number
  /** ONNX Runtime intra-op threads. Results are deterministic for a fixed thread count. */
  threads: number
  /** The separation term (separation-term.ts); absent: none. */
  separation?: SeparationSettings
}

/** One training document: its tokens and, for the separation term, the spans that show a contrast's sides. */
export interface TrainingText {
  tokens: readonly number[]
  spans?: readonly ContrastSpan[]
}

/** Progress of one step. */
export interface StepReport {
  step: number
  loss: number
  learningRate: number
  gradientNorm: number
  /** The separation term's value (mean squared cosine between contrasts), when the run has one. */
  separation?: number
  /** Predicted tokens so far. */
  tokensSeen: number
}

/** Trained weights and the per-step history. */
export interface TrainingResult {
  parameters: Parameters
  history: StepReport[]
}

/** Callbacks of a training run. */
export interface TrainingObserver {
  onStep?: (report: StepReport) => void
  /** Called after every `every` steps and after the last, with the current weights (do not modify them). */
  checkpoint?: { every: number; run: (step: number, parameters: Parameters) => Promise<void> }
}

/**
 * Train a Llama decoder from scratch on the documents `nextDocument` yields (no longer than `settings.sequence`
 * tokens). Deterministic for the same settings, document stream and thread count.
 */
export async function trainModel(
  config: LlamaConfig,
  settings: TrainingSettings,
  nextDocument: () => TrainingText,
  observer: TrainingObserver = {},
): Promise<TrainingResult> {
  const parameters = initializeParameters(config, settings.seed)
  const optimizer = new AdamW(parameters, {
    beta1: settings.beta1,
    beta2: settings.beta2,
    epsilon: 1e-8,
    weightDecay: settings.weightDecay,
  })
  const runner = await createStepRunner(
    {
      config,
      batch: settings.batchRows,
      sequence: settings.sequence,
      floatType: 'float32',
      ...(settings.separation === undefined ? {} : { separation: settings.separation }),
    },
    settings.threads,
  )
  const history: StepReport[] = []
  const pending: TrainingText[] = []
  let pendingTokens = 0
  let tokensSeen = 0
  try {
    for (let step = 0; step < settings.steps; step++) {
      // Enough pending tokens that every row can be filled until the next document would overflow it.
      while (pendingTokens < (settings.batchRows + 1) * settings.sequence) {
        const document = nextDocument()
        pending.push(document)
        pendingTokens += document.tokens.length
      }
      const rows = settings.batchRows
      const packed = packBatch(
        pending.map((document) => document.tokens),
        config,
        rows,
        settings.sequence,
        'float32',
      )
      const batch = packed.batch
      if (settings.separation !== undefined) {
        batch.contrastWeights = contrastWeights(
          pending.map((document) => document.spans ?? []),
          packed.placements,
          settings.separation.groups,
          rows,
          settings.sequence,
          'float32',
        )
      }
      for (const document of pending.splice(0, packed.used)) pendingTokens -= document.tokens.length
      const result = await runner.run(parameters, batch)
      const gradients = result.gradients as Map<string, Float32Array>
      const norm = gradientNorm(gradients)
      const learningRate = scheduledLearningRate(step, {
        peak: settings.peakLearningRate,
        warmupSteps: settings.warmupSteps,
        totalSteps: settings.steps,
        finalFraction: settings.finalLearningRateFraction,
      })
      optimizer.step(gradients, learningRate, norm > settings.gradientClip ? settings.gradientClip / norm : 1)
      tokensSeen += batch.predictedTokens
      const report: StepReport = {
        step,
        loss: result.loss,
        learningRate,
        gradientNorm: norm,
        ...(result.separation === undefined ? {} : { separation: result.separation }),
        tokensSeen,
      }
      history.push(report)
      observer.onStep?.(report)
      const checkpoint = observer.checkpoint
      if (checkpoint !== undefined && ((step + 1) % checkpoint.every === 0 || step === settings.steps - 1)) {
        await checkpoint.run(step + 1, parameters)
      }
    }
  } finally {
    await runner.release()
  }
  return { parameters, history }
}
