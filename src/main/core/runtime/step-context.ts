/**
 * What one `session.run` of a batched, left-padded decode feeds: enough for callers that add their own graph inputs
 * (the steering compiler's `tiller_strength [batch]` and `tiller_edit_mask [batch, sequence]`) to tell, for every fed
 * position, whether it is padding, a prompt token or a generated token.
 */
import type * as ort from 'onnxruntime-node'

/**
 * One step of a batched run.
 *
 * Row `b` is left padded by `leftPadding[b]` positions; its prompt occupies absolute positions
 * `leftPadding[b] .. leftPadding[b] + promptLengths[b] - 1`, and every position after the prompt holds a generated
 * token. This step feeds absolute positions `pastLength .. pastLength + sequence - 1` for every row.
 */
export interface StepContext {
  /** 0 for the prefill pass, then 1, 2, ... for each decode step. */
  step: number
  /** Rows in the batch (rows that finished early keep stepping, so this never shrinks). */
  batch: number
  /** Tokens fed per row this step: the padded prompt width at prefill, 1 when decoding. */
  sequence: number
  /** Positions already in the KV cache (padding included). */
  pastLength: number
  leftPadding: number[]
  promptLengths: number[]
  isPrefill: boolean
}

/** What sits at one fed position of one row. `index` counts prompt tokens or generated tokens from 0. */
export type FedPosition =
  { kind: 'padding' } | { kind: 'prompt'; index: number } | { kind: 'generated'; index: number }

/**
 * Callers' extra graph inputs for a step, e.g. `{ tiller_strength: Tensor [batch] }`. `describeRow` says what a row
 * runs (e.g. "strength 2 of the edits"), for errors about that row.
 */
export type ExtraInputs = ((step: StepContext) => Record<string, ort.Tensor>) & {
  describeRow?: (row: number) => string | undefined
}

/** Classify position `offset` (0 ≤ offset < context.sequence) fed for row `row` in this step. */
export function fedPosition(context: StepContext, row: number, offset: number): FedPosition {
  const padding = context.leftPadding[row] ?? 0
  const promptLength = context.promptLengths[row] ?? 0
  const absolute = context.pastLength + offset
  if (absolute < padding) return { kind: 'padding' }
  if (absolute < padding + promptLength) return { kind: 'prompt', index: absolute - padding }
  return { kind: 'generated', index: absolute - padding - promptLength }
}
