import type { VariantName } from './model-variants.ts'
/** Execution providers Tiller knows how to ask ONNX Runtime for. */
export type ExecutionProviderName = 'cuda' | 'dml' | 'cpu'

/** The provider preference a user picks; `auto` tries CUDA, then DirectML, then CPU. */
export type ExecutionProviderChoice = 'auto' | ExecutionProviderName

/** Why each provider is active or skipped, as `tiller doctor` and the status screen show it. */
export interface ProviderProbe {
  name: ExecutionProviderName
  available: boolean
  /** One sentence: why it is usable, or why it was skipped and what to do about it. */
  reason: string
}

export interface ProviderReport {
  active: ExecutionProviderName
  probes: ProviderProbe[]
}

/** What the first screen shows about the engine. */
export interface EngineStatus {
  tillerVersion: string
  onnxRuntimeVersion: string
  transformersVersion: string
  platform: string
  providers: ProviderReport
  model: LoadedModelInfo | null
}

export interface LoadedModelInfo {
  path: string
  name: string
  architecture: string
  graphFamily: 'builder' | 'optimum' | 'unknown'
  layers: number
  hiddenSize: number
  vocabSize: number
  dtype: 'float32' | 'float16'
  /** The Transformers.js variant whose graph runs (fp32, q4, …), when the graph is one of a folder's variants. */
  variant?: VariantName
}
