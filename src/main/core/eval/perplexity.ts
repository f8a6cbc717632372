import { TillerError } from '../errors.ts'
import type { ForwardLogits } from './forward-logits.ts'
import { scoreContinuations, type ScoringOptions } from './log-likelihood.ts'

/** Perplexity of a set of texts. */
export interface PerplexityResult {
  /** Tokens predicted (every token of every text except its first). */
  tokens: number
  /** Σ −log p over the predicted tokens, natural log. */
  negativeLogLikelihood: number
  /** exp(mean negative log-likelihood per predicted token). */
  perplexity: number
  /** Mean negative log-likelihood per predicted token in bits. */
  bitsPerToken: number
}

/** Batching and length limit of a perplexity measurement. */
export interface PerplexityOptions extends ScoringOptions {
  /** Longest text the model takes, in tokens; longer texts are refused rather than silently cut. */
  maxLength?: number
}

/**
 * Token-level perplexity of `texts` (token ids, each starting with the model's begin token, which is the context
 * of the first predicted token).
 */
export async function perplexity(
  forward: ForwardLogits,
  texts: readonly number[][],
  options: PerplexityOptions = {},
): Promise<PerplexityResult> {
  texts.forEach((tokens, index) => {
    if (tokens.length < 2) {
      throw new TillerError(
        'invalid-argument',
        `Text ${index} has ${tokens.length} tokens; perplexity needs at least 2.`,
        {
          subject: `text ${index}`,
        },
      )
    }
    if (options.maxLength !== undefined && tokens.length > options.maxLength) {
      throw new TillerError(
        'prompt-too-long',
        `Text ${index} has ${tokens.length} tokens; the model takes at most ${options.maxLength}. Shorten or split it.`,
        { subject: `text ${index}` },
      )
    }
  })
  const scores = await scoreContinuations(
    forward,
    texts.map((tokens) => ({ context: tokens.slice(0, 1), continuation: tokens.slice(1) })),
    options,
  )
  const tokens = scores.reduce((sum, score) => sum + score.tokenLogProbabilities.length, 0)
  const negativeLogLikelihood = -scores.reduce((sum, score) => sum + score.logProbability, 0)
  const mean = negativeLogLikelihood / Math.max(1, tokens)
  return { tokens, negativeLogLikelihood, perplexity: Math.exp(mean), bitsPerToken: mean / Math.LN2 }
}
