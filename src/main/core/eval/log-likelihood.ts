import { TillerError } from '../errors.ts'
import type { ForwardLogits, RowLogits } from './forward-logits.ts'

/** A continuation to score after a context, both as token ids. */
export interface ContinuationRequest {
  /** Tokens before the continuation; at least one (e.g. the begin token). */
  context: number[]
  continuation: number[]
}

/** Log-likelihood of one continuation. */
export interface ContinuationScore {
  /** Σ log p(continuation token | everything before it), natural log. */
  logProbability: number
  /** Per continuation token. */
  tokenLogProbabilities: number[]
  /** Whether every continuation token was the argmax prediction. */
  greedy: boolean
}

/** Batching of scoring forward passes. */
export interface ScoringOptions {
  /** Rows per forward call (default 16). */
  batchSize?: number
}

/** log softmax(logits[row, column])[token] and whether token is the argmax, in float64. */
function logProbabilityAt(
  result: RowLogits,
  row: number,
  column: number,
  token: number,
): { value: number; top: boolean } {
  const { logits, vocab, sequence } = result
  const offset = (row * sequence + column) * vocab
  let max = -Infinity
  for (let id = 0; id < vocab; id++) max = Math.max(max, logits[offset + id] as number)
  let total = 0
  for (let id = 0; id < vocab; id++) total += Math.exp((logits[offset + id] as number) - max)
  const chosen = logits[offset + token] as number
  return { value: chosen - max - Math.log(total), top: chosen === max }
}

/**
 * Score each continuation by teacher forcing: one forward pass over context + continuation, reading the
 * log-softmax at the positions that predict the continuation tokens (METHODS §9.1, no length normalisation).
 */
export async function scoreContinuations(
  forward: ForwardLogits,
  requests: readonly ContinuationRequest[],
  options: ScoringOptions = {},
): Promise<ContinuationScore[]> {
  const batchSize = options.batchSize ?? 16
  const scores: ContinuationScore[] = []
  for (let start = 0; start < requests.length; start += batchSize) {
    const slice = requests.slice(start, start + batchSize)
    slice.forEach((request, offset) => {
      if (request.context.length === 0 || request.continuation.length === 0) {
        throw new TillerError(
          'invalid-argument',
          `Scoring request ${start + offset} needs a non-empty context and continuation.`,
          {
            subject: `request ${start + offset}`,
          },
        )
      }
    })
    const result = await forward(slice.map((request) => [...request.context, ...request.continuation]))
    slice.forEach((request, row) => {
      const padding = result.leftPadding[row] ?? 0
      const tokenLogProbabilities: number[] = []
      let greedy = true
      request.continuation.forEach((token, index) => {
        // The logits at the position before a token predict it.
        const column = padding + request.context.length + index - 1
        const { value, top } = logProbabilityAt(result, row, column, token)
        tokenLogProbabilities.push(value)
        greedy &&= top
      })
      const logProbability = tokenLogProbabilities.reduce((sum, value) => sum + value, 0)
      scores.push({ logProbability, tokenLogProbabilities, greedy })
    })
  }
  return scores
}
