import { TillerError } from '../errors.ts'
import { halfPromptLength } from '../edits/positions.ts'
import type { StrengthForward } from './choice-scorer.ts'
import { klDivergence, logSoftmaxAt } from './log-softmax.ts'

/**
 * Fluency controls (METHODS §9.4): perplexity per token, word and UTF-8 byte, bits per byte, and the KL divergence
 * KL(base ‖ edited) of next-token distributions, for reference texts at several strengths in shared batches.
 */

/** A reference text and its token ids (starting with the begin token, the context of the first prediction). */
export interface EncodedText {
  text: string
  tokens: number[]
}

/** Fluency of a set of texts. */
export interface FluencyResult {
  /** Tokens predicted (every token of every text but its first). */
  tokens: number
  /** UTF-8 bytes of the texts. */
  bytes: number
  /** Whitespace-separated words of the texts. */
  words: number
  /** Σ −log p over the predicted tokens, natural log. */
  negativeLogLikelihood: number
  perplexity: number
  bitsPerToken: number
  /** exp(−LL / bytes). */
  bytePerplexity: number
  /** −LL / (bytes · ln 2). */
  bitsPerByte: number
  /** exp(−LL / words). */
  wordPerplexity: number
}

/** −LL / (B·ln 2): bits per UTF-8 byte from a natural-log negative log-likelihood. */
export function bitsPerByte(negativeLogLikelihood: number, bytes: number): number {
  return negativeLogLikelihood / (bytes * Math.LN2)
}

/** Byte perplexity from bits per byte: 2^BpB (= exp(−LL/B)). */
export function bytePerplexityFromBitsPerByte(bits: number): number {
  return 2 ** bits
}

/** All fluency figures from a negative log-likelihood and the texts' counts. */
export function fluencyFromLikelihood(
  negativeLogLikelihood: number,
  counts: { tokens: number; bytes: number; words: number },
): FluencyResult {
  const perToken = negativeLogLikelihood / counts.tokens
  return {
    ...counts,
    negativeLogLikelihood,
    perplexity: Math.exp(perToken),
    bitsPerToken: perToken / Math.LN2,
    bytePerplexity: Math.exp(negativeLogLikelihood / counts.bytes),
    bitsPerByte: bitsPerByte(negativeLogLikelihood, counts.bytes),
    wordPerplexity: Math.exp(negativeLogLikelihood / counts.words),
  }
}

/** Fluency at one strength and its mean next-token KL from strength 0 (nats per predicted token). */
export interface StrengthFluency {
  strength: number
  fluency: FluencyResult
  klFromBase: number
}

function textCounts(texts: readonly EncodedText[]): { tokens: number; bytes: number; words: number } {
  const encoder = new TextEncoder()
  let tokens = 0
  let bytes = 0
  let words = 0
  for (const text of texts) {
    tokens += text.tokens.length - 1
    bytes += encoder.encode(text.text).length
    words += text.text.split(/\s+/).filter((word) => word !== '').length
  }
  return { tokens, bytes, words }
}

/**
 * Fluency of `texts` at each strength. `strengths[0]` must be 0 (the base the KL is taken from); each text runs
 * at every strength as rows of one forward call, so base and edited distributions come from the same batch.
 * `maxLength` refuses texts longer than the model's context rather than cutting them.
 */
export async function fluencyAtStrengths(
  forward: StrengthForward,
  texts: readonly EncodedText[],
  strengths: readonly number[],
  options: { batchRows?: number; maxLength?: number } = {},
): Promise<StrengthFluency[]> {
  if (strengths[0] !== 0) {
    throw new TillerError('invalid-argument', 'The first strength of a fluency sweep must be 0 (the base).')
  }
  texts.forEach((text, index) => {
    if (text.tokens.length < 2) {
      throw new TillerError('invalid-argument', `Reference text ${index + 1} has fewer than 2 tokens.`, {
        subject: `text ${index + 1}`,
      })
    }
    if (options.maxLength !== undefined && text.tokens.length > options.maxLength) {
      throw new TillerError(
        'prompt-too-long',
        `Reference text ${index + 1} has ${text.tokens.length} tokens; the model takes at most ${options.maxLength}. Shorten or split it.`,
        { subject: `text ${index + 1}` },
      )
    }
  })
  const counts = textCounts(texts)
  const negative = strengths.map(() => 0)
  const divergence = strengths.map(() => 0)
  const perCall = Math.max(1, Math.floor((options.batchRows ?? 32) / strengths.length))
  for (let start = 0; start < texts.length; start += perCall) {
    const slice = texts.slice(start, start + perCall)
    // Row (t, s) = t·S + s: each text's strengths sit next to each other.
    const rows = slice.flatMap((text) => strengths.map(() => text.tokens))
    const rowStrengths = slice.flatMap(() => [...strengths])
    // A reference text has no prompt, yet edits are placed relative to one: its first half plays the prompt
    // (halfPromptLength) and answer-only policies start at token 1, so every policy's effect reaches the scored
    // predictions.
    const result = await forward(
      rows,
      rowStrengths,
      rows.map(() => 1),
      rows.map((row) => halfPromptLength(row.length)),
    )
    const { logits, vocab, sequence } = result
    const base = new Float64Array(vocab)
    const edited = new Float64Array(vocab)
    slice.forEach((text, textIndex) => {
      const baseRow = textIndex * strengths.length
      const padding = (row: number): number => result.leftPadding[row] ?? 0
      for (let index = 1; index < text.tokens.length; index++) {
        const token = text.tokens[index] as number
        const at = (row: number): number => (row * sequence + padding(row) + index - 1) * vocab
        logSoftmaxAt(logits, at(baseRow), vocab, base)
        negative[0] = (negative[0] as number) - (base[token] as number)
        for (let strength = 1; strength < strengths.length; strength++) {
          logSoftmaxAt(logits, at(baseRow + strength), vocab, edited)
          negative[strength] = (negative[strength] as number) - (edited[token] as number)
          divergence[strength] = (divergence[strength] as number) + klDivergence(base, edited, vocab)
        }
      }
    })
  }
  return strengths.map((strength, index) => ({
    strength,
    fluency: fluencyFromLikelihood(negative[index] as number, counts),
    klFromBase: (divergence[index] as number) / counts.tokens,
  }))
}
