/**
 * The seam between the engine and the runtime (DESIGN.md §7): what the engine needs of a loaded model and the
 * functions it composes. `createRealRuntime()` (real-runtime.ts) binds them to `src/main/core/runtime/`, the fit
 * pipeline and the steered generator; tests plug in a fake so transports and the renderer run without ONNX Runtime.
 */
import type { GenerationOptions } from '../../../shared/contract.ts'
import type { Edit, MethodId, ModelFingerprint } from '../../../shared/edit.ts'
import type {
  ExecutionProviderChoice,
  ExecutionProviderName,
  LoadedModelInfo,
  ProviderReport,
} from '../../../shared/engine-status.ts'
import type { ChatSendResult } from '../../../shared/chat.ts'
import type { EvaluationRun } from '../../../shared/evaluation.ts'
import type { GenerationSummary } from '../../../shared/generation.ts'
import type { ComparedEdit } from '../fitting/edit-directions.ts'
import type { LayerDiagnosticsReport } from '../../../shared/layer-diagnostics.ts'
import type { ComparisonResult, FitSummary } from '../../../shared/steering.ts'
import type { EditFileExtras } from '../edits/edit-file.ts'

/** What the engine needs of a loaded model. */
export interface EngineModel {
  info: LoadedModelInfo
  /** The provider the model's session runs on, when the runtime knows it. */
  provider?: ExecutionProviderName
  /** Why that differs from the preferred provider, when it fell back. */
  providerFallbackReason?: string | undefined
  dispose(): Promise<void> | void
}

/** One generation request as the engine hands it to the runtime. */
export interface EngineGenerationRequest {
  prompt: string
  chat: boolean
  options: GenerationOptions
  onToken(row: number, token: number, text: string): void
  signal: AbortSignal
}

/** One fit as the engine hands it to the runtime; method and options were checked already. */
export interface EngineFitRequest {
  /** The demonstration file (JSONL). */
  dataset: string
  method: MethodId
  /** Parsed options (defaults merged). */
  options: Record<string, unknown>
  /** The loaded model's fingerprint, computed once per model. */
  fingerprint: ModelFingerprint
  onProgress(fraction: number | null, message: string): void
  signal: AbortSignal
}

/** A finished fit: the edit, what to report, and what an edit file records about it. */
export interface EngineFit {
  edit: Edit
  summary: FitSummary
  extras: EditFileExtras
}

/** One comparison as the engine hands it to the runtime: one prompt, one strength per row of one batch. */
export interface EngineCompareRequest {
  edit: Edit
  prompt: string
  chat: boolean
  strengths: number[]
  options: GenerationOptions
  onToken(row: number, token: number, text: string): void
  signal: AbortSignal
}

/** One stacked edit of a chat request, with its strength (0 when switched off). */
export interface EngineStackedEdit {
  edit: Edit
  strength: number
}

/**
 * One chat reply as the engine hands it to the runtime: each column's conversation rendered through the chat
 * template, generated as rows of one batch (row 0 base, row 1 steered when `edits` is not empty).
 */
export interface EngineChatRequest {
  systemPrompt: string
  /** Earlier exchanges, with each column's own reply. */
  history: { user: string; base: string; steered: string }[]
  message: string
  /** Every edit on the stack, in order (switched-off ones at strength 0); empty: the base column only. */
  edits: EngineStackedEdit[]
  options: GenerationOptions
  onToken(column: 'base' | 'steered', text: string): void
  signal: AbortSignal
}

/** Layer diagnostics as the engine hands them to the runtime; method and options were checked already. */
export interface EngineDiagnosisRequest {
  dataset: string
  method: MethodId
  options: Record<string, unknown>
  maxPairs: number
  fingerprint: ModelFingerprint
  /** A held edit of this model to measure at `strength`, and the other held edits of it to compare with. */
  edit?: { edit: Edit; strength: number }
  compareWith?: ComparedEdit[]
  onProgress(fraction: number | null, message: string): void
  signal: AbortSignal
}

/** One evaluation as the engine hands it to the runtime: the edit, its item sets and reference texts. */
export interface EngineEvaluationRequest {
  edit: Edit
  dataset: string
  sideSets: string[]
  /** Neutral reference texts, or undefined to skip fluency. */
  text: string | undefined
  strengths: number[]
  fluencyLimit: number
  itemLimit: number | undefined
  onProgress(fraction: number | null, message: string): void
  signal: AbortSignal
}

/** What the runtime measures of an evaluation; the engine adds identity, model, edit and where it is saved. */
export type EngineEvaluation = Omit<EvaluationRun, 'id' | 'created' | 'model' | 'edit' | 'dataset' | 'path'>

/** The runtime functions the engine composes. */
export interface EngineRuntime<Model extends EngineModel = EngineModel> {
  versions(): Promise<{ onnxRuntime: string; transformers: string }>
  probeProviders(choice: ExecutionProviderChoice): Promise<ProviderReport>
  /** `variant`: a Transformers.js graph variant of the folder (`q4`, `fp16`, …); default the folder's default. */
  loadModel(folder: string, options: { provider: ExecutionProviderChoice; variant?: string }): Promise<Model>
  /** Render the prompt (chat template when `chat`), generate one row, and summarise it. */
  generate(model: Model, request: EngineGenerationRequest): Promise<GenerationSummary>
  /** The embedded default model's folder; throws a TillerError naming the path when it is missing. */
  defaultModelFolder(): string
  /** What identifies the model's weights and tokenizer, as edits record it. */
  fingerprint(model: Model): Promise<ModelFingerprint>
  /** Render the training pairs, capture the method's site, fit. */
  fit(model: Model, request: EngineFitRequest): Promise<EngineFit>
  /** Generate the prompt once per strength of the edit, as rows of one batch with one seed. */
  compare(model: Model, request: EngineCompareRequest): Promise<Omit<ComparisonResult, 'editId'>>
  /** Answer the next chat message in the base and steered columns, as rows of one batch with one seed. */
  chat(model: Model, request: EngineChatRequest): Promise<ChatSendResult>
  /** Capture the method's site at every block and score each layer (absent from runtimes that cannot). */
  diagnoseLayers?(model: Model, request: EngineDiagnosisRequest): Promise<LayerDiagnosticsReport>
  /** Sweep strengths on validation items, measure the chosen one on test items (absent where unsupported). */
  evaluateEdit?(model: Model, request: EngineEvaluationRequest): Promise<EngineEvaluation>
}
