import type { ChatSendResult } from './chat.ts'
import type { LoadedModelInfo } from './engine-status.ts'
import type { GenerationSummary } from './generation.ts'
import type { EvaluationRun } from './evaluation.ts'
import type { LayerDiagnosticsReport } from './layer-diagnostics.ts'
import type { ComparisonResult, FitResult } from './steering.ts'
import type { ImportedModel } from './studio.ts'

/** What each kind of job yields when it succeeds. A new long operation adds a row here. */
export interface JobResults {
  'model:load': LoadedModelInfo
  generate: GenerationSummary
  /** `edit:fit`: render → capture → fit. */
  fit: FitResult
  /** `chat:compare`: one prompt at several strengths of an edit. */
  compare: ComparisonResult
  /** `chat:send`: the next reply of both chat columns. */
  chat: ChatSendResult
  /** `diagnostics:layers`: per-layer probe accuracy, separation and norms of a demonstration set. */
  diagnostics: LayerDiagnosticsReport
  /** `evaluation:run`: a validation sweep, the chosen strength, test numbers and side effects. */
  evaluate: EvaluationRun
  /** `model:import-gguf`: a GGUF model converted into an ONNX model folder. */
  'import-gguf': ImportedModel
  /** `library:export-onnx`: a steered model folder. */
  'export-onnx': { path: string; strength: number }
}

export type JobKind = keyof JobResults

/** A failure as it crosses a transport: a stable code, a message saying what to do, and what it is about. */
export interface ErrorInfo {
  /** A TillerError code (`invalid-argument`, `file-not-found`, ...) or `internal`. */
  code: string
  message: string
  /** The file, field or row the error is about, when there is one. */
  subject?: string
}

/** Returned by every request that starts a job; follow it with `job:progress` and `job:done` events. */
export interface JobStarted {
  id: string
  kind: JobKind
}

/** A running job as `job:list` reports it. */
export interface JobInfo {
  id: string
  kind: JobKind
  /** Short human description, e.g. the model folder being loaded. */
  label: string
  /** Milliseconds since the Unix epoch. */
  startedAt: number
  /** Last reported progress in [0, 1], or null while unknown. */
  fraction: number | null
  message: string
}

/** Event `job:progress`. */
export interface JobProgress {
  id: string
  kind: JobKind
  fraction: number | null
  message: string
}

/** Event `job:done`: exactly one per job, whatever its outcome. */
export type JobDone =
  | { [K in JobKind]: { id: string; kind: K; outcome: 'succeeded'; result: JobResults[K] } }[JobKind]
  | { id: string; kind: JobKind; outcome: 'failed'; error: ErrorInfo }
  | { id: string; kind: JobKind; outcome: 'cancelled' }
