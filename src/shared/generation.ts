/** Plain data about one generation, as the engine reports it to clients. */

/** Why a generated row stopped. */
export type FinishReason = 'eos' | 'stop' | 'length' | 'cancelled'

/** One streamed token of a running generation job (event `generate:token`). */
export interface GeneratedToken {
  jobId: string
  /** Batch row the token belongs to (0 for a single prompt). */
  row: number
  token: number
  /** The token's text as it extends the decoded output (may be empty until a multi-byte character completes). */
  text: string
}

/** The result of a finished generation job. */
export interface GenerationSummary {
  text: string
  finishReason: FinishReason
  promptTokens: number
  generatedTokens: number
  tokensPerSecond: number
  prefillMilliseconds: number
  decodeMilliseconds: number
}
