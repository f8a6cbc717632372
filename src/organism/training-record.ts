import type { LlamaConfig } from '../main/core/models/checkpoint.ts'
import type { BaseMeasurement } from './base-behaviour.ts'
import type { Separation } from './separation.ts'
import type { LegacySteeringSweep } from './model-card-legacy-steering.ts'
import type { SteeringSweep } from './steerability.ts'
import type { TrainingSettings } from './training/trainer.ts'

/** What `npm run organism:train` records next to the exported organism (`training.json`), for the model card and reproducibility. */
export interface TrainingRecord {
  worldGeneratorVersion: number
  seed: number
  vocabularySize: number
  config: LlamaConfig
  settings: TrainingSettings
  /** Training loss of every step, natural log per predicted token. */
  losses: number[]
  /** The separation term of every step (mean squared cosine between behaviours), when the run had one. */
  separations?: number[]
  /** Predicted tokens over the whole run. */
  tokensSeen: number
  /** Held-out neutral perplexity at checkpoints, measured on the in-training weights. */
  checkpoints: { step: number; neutralPerplexity: number }[]
  wallSeconds: number
  /** CPU time of the training process (user + system), which, unlike wall time, does not depend on other load. */
  cpuSeconds: number
}

/** File name of the record inside the model folder. */
export const trainingRecordFile = 'training.json'

/** File name of the measurements behind the model card (base behaviour and the steering sweep) inside the model folder. */
export const evaluationRecordFile = 'evaluation.json'

/** The measurements behind the model card (`evaluation.json`); null where a measurement failed (the note says why). */
export interface EvaluationRecord {
  base: BaseMeasurement
  /** A record from before the validation/test split has the legacy shape (see model-card-legacy-steering.ts). */
  steering: SteeringSweep | LegacySteeringSweep | null
  steeringNote: string | null
  separation: Separation | null
}
