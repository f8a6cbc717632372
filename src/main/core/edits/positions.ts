import type { PositionPolicy } from '../../../shared/edit.ts'
import { TillerError } from '../errors.ts'

/**
 * Position policies → the per-step edit masks the compiled graph reads (`tiller_edit_mask*`, `[batch, seq]`).
 *
 * A decode step feeds `sequence` positions per row. Row b's fed position j sits at padded index `pastLength + j`;
 * subtracting the row's left padding gives its real token index t (t < 0 is padding). Tokens with
 * t < promptLength are prompt tokens, the rest were generated. Padding is never edited.
 */

/** What a step must say about its rows; the runtime's StepContext carries (at least) these fields. */
export interface StepPositions {
  batch: number
  /** Tokens fed this step per row. */
  sequence: number
  /** Cached positions before this step (padded length). */
  pastLength: number
  leftPadding: readonly number[]
  promptLengths: readonly number[]
}

/**
 * The prompt length a text without one is read with (a reference text, the fit's smoke-check prompt): its first
 * half, so that prompt-prefix, last-prompt-token and answer policies all act where the rest of the text sees them.
 */
export function halfPromptLength(tokens: number): number {
  return Math.max(1, Math.ceil(tokens / 2))
}

/** Per-row facts a policy may need beyond the step itself. */
export interface PolicyRowInfo {
  /**
   * Token index where the assistant turn starts, per row (`fromAssistantStart`). When absent, the last prompt
   * token: a plain prompt has no assistant header, and the last prompt position is the one whose output
   * predicts the first generated token.
   */
  assistantStarts?: readonly number[]
}

function assertRow(value: number | undefined, field: string, row: number): number {
  if (value === undefined || !Number.isInteger(value) || value < 0) {
    throw new TillerError(
      'invalid-argument',
      `Step context ${field}[${row}] is missing or not a whole number.`,
      {
        subject: field,
      },
    )
  }
  return value
}

/** Whether a policy edits the real token at index `token` of a row with `promptLength` prompt tokens. */
export function policyCovers(
  policy: PositionPolicy,
  token: number,
  promptLength: number,
  assistantStart: number,
): boolean {
  switch (policy.kind) {
    case 'all':
      return true
    case 'prompt':
      return token < promptLength
    case 'generated':
      return token >= promptLength
    case 'promptPrefix':
      return token < Math.min(policy.count, promptLength)
    case 'fromAssistantStart':
      return token >= assistantStart
    case 'lastPromptToken':
      return token === promptLength - 1
    case 'lastPromptAndGenerated':
      return token >= promptLength - 1
  }
}

/**
 * The mask of one policy for one step: `[batch, sequence]` row-major, 1 where the edit applies.
 */
export function policyMask(
  policy: PositionPolicy,
  step: StepPositions,
  rows: PolicyRowInfo = {},
): Float32Array {
  const mask = new Float32Array(step.batch * step.sequence)
  for (let row = 0; row < step.batch; row++) {
    const padding = assertRow(step.leftPadding[row], 'leftPadding', row)
    const promptLength = assertRow(step.promptLengths[row], 'promptLengths', row)
    const assistantStart = rows.assistantStarts?.[row] ?? Math.max(0, promptLength - 1)
    for (let position = 0; position < step.sequence; position++) {
      const token = step.pastLength + position - padding
      if (token < 0) continue
      if (policyCovers(policy, token, promptLength, assistantStart)) mask[row * step.sequence + position] = 1
    }
  }
  return mask
}

/**
 * Each fed position's real token index for `addAt` (front-aligned vectors): `[batch, sequence]` int64,
 * 0 on padding (the mask is 0 there, so the value only has to be a valid index).
 */
export function tokenIndices(step: StepPositions): BigInt64Array {
  const indices = new BigInt64Array(step.batch * step.sequence)
  for (let row = 0; row < step.batch; row++) {
    const padding = assertRow(step.leftPadding[row], 'leftPadding', row)
    for (let position = 0; position < step.sequence; position++) {
      const token = step.pastLength + position - padding
      indices[row * step.sequence + position] = BigInt(Math.max(0, token))
    }
  }
  return indices
}

/** A stable key for a policy, used to share one mask input among interventions with equal policies. */
export function policyKey(policy: PositionPolicy): string {
  return policy.kind === 'promptPrefix' ? `promptPrefix:${policy.count}` : policy.kind
}
