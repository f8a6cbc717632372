import type { HookSite, ModelFingerprint } from './edit.ts'

/**
 * Which token positions capture reads (METHODS.md §0.2):
 *   last               last real token of the rendered example
 *   lastPrompt         last token of the prompt (before the completion)
 *   completionMean     mean over the completion's tokens
 *   completionTokens   every completion token, positive and negative paired by position (HPR, SEA)
 *   answerLetter       the answer-letter token of an A/B completion (CAA)
 *   fromAssistantStart every token from the assistant turn's start, averaged
 *   promptTokens       every prompt token, front-aligned (ActAdd)
 */
export const positionSelectors = [
  'last',
  'lastPrompt',
  'completionMean',
  'completionTokens',
  'answerLetter',
  'fromAssistantStart',
  'promptTokens',
] as const
export type PositionSelector = (typeof positionSelectors)[number]

/**
 * Activations captured from a demonstration set at one site over several layers.
 *
 * For pooled selectors each row is one example: positive[i] and negative[i] are `[examples, width]` and row r of
 * both comes from pair r. For per-token selectors (`completionTokens`, `promptTokens`) rows are tokens and
 * `rowsPerPair[r]` says how many consecutive rows belong to pair r (the shorter side's length: rows are paired
 * by position, the longer side's extra tokens are dropped).
 */
export interface ActivationSet {
  site: HookSite
  selector: PositionSelector
  /** 0-based decoder blocks, ascending. */
  layers: number[]
  width: number
  /** `attn_heads` sets: the model's query heads; a row's width is heads × headDim, head h at [h·headDim, (h+1)·headDim). */
  heads?: number
  /** One matrix per entry of `layers`, `[rows, width]` row-major. */
  positive: Float32Array[]
  negative: Float32Array[]
  rows: number
  rowsPerPair?: number[]
  exampleIds: string[]
  /** sha256 of the demonstration set's canonical JSONL, hex. */
  dataHash: string
  model: ModelFingerprint
}
