/**
 * Incremental detokenisation of one row's generated tokens, with stop strings.
 *
 * Decoding a token alone loses context (SentencePiece drops a leading space at the start of a decode, byte-fallback
 * tokens form one character only together), so each new piece is the difference between decoding a short window
 * with and without the new tokens. Text that could be the start of a stop string is held back until it is known
 * not to be one; text after a stop string is never emitted.
 */
import type { TextTokenizer } from './text-tokenizer.ts'

/** Tokens of context kept before the new tokens when decoding a window. */
const contextTokens = 6
const replacementCharacter = '\uFFFD'

/** What one pushed token produced. */
export interface TextPiece {
  /** Newly final text (possibly empty while a character or a possible stop string is incomplete). */
  text: string
  /** True when the row's text now contains a stop string; `text` ends right before it. */
  stopped: boolean
}

/** The running text of one row. */
export class TextStream {
  private readonly tokenizer: TextTokenizer
  private readonly stopStrings: string[]
  private readonly tokens: number[]
  private prefixOffset: number
  private readOffset: number
  /** Everything decoded so far (may run past a stop string). */
  private decoded = ''
  /** How much of `decoded` has been handed out. */
  private emittedLength = 0
  private stoppedAt: number | undefined

  /** `promptTokens` give the first generated token its context; they are never part of the text. */
  constructor(tokenizer: TextTokenizer, promptTokens: number[], stopStrings: string[]) {
    this.tokenizer = tokenizer
    this.stopStrings = stopStrings.filter((stop) => stop.length > 0)
    this.tokens = [...promptTokens]
    this.readOffset = promptTokens.length
    this.prefixOffset = Math.max(0, promptTokens.length - contextTokens)
  }

  /** The text handed out so far (ends before the stop string once stopped). */
  get text(): string {
    return this.decoded.slice(0, this.emittedLength)
  }

  private decode(from: number, to: number): string {
    return this.tokenizer.decode(this.tokens.slice(from, to), { skip_special_tokens: true })
  }

  /** Add a generated token and return the text it makes final. */
  push(token: number): TextPiece {
    if (this.stoppedAt !== undefined) return { text: '', stopped: true }
    this.tokens.push(token)
    const before = this.decode(this.prefixOffset, this.readOffset)
    const after = this.decode(this.prefixOffset, this.tokens.length)
    if (after.length > before.length && !after.endsWith(replacementCharacter)) {
      this.decoded += after.slice(before.length)
      this.prefixOffset = this.readOffset
      this.readOffset = this.tokens.length
    }
    return this.release(false)
  }

  /**
   * Record a generated token without decoding it yet; `finish()` decodes everything recorded at once. For runs
   * nobody streams and without stop strings, where per-token text is not needed.
   */
  append(token: number): void {
    if (this.stoppedAt === undefined) this.tokens.push(token)
  }

  /** The row finished for another reason: hand out everything still held back. */
  finish(): string {
    if (this.stoppedAt !== undefined) return ''
    if (this.readOffset < this.tokens.length) {
      // Trailing tokens that never formed a complete character: emit what decoding gives.
      const before = this.decode(this.prefixOffset, this.readOffset)
      const after = this.decode(this.prefixOffset, this.tokens.length)
      this.decoded += after.slice(before.length)
      this.readOffset = this.tokens.length
    }
    return this.release(true).text
  }

  private release(final: boolean): TextPiece {
    const searchFrom = Math.max(0, this.emittedLength - this.longestStop() + 1)
    let stopIndex = -1
    for (const stop of this.stopStrings) {
      const found = this.decoded.indexOf(stop, searchFrom)
      if (found !== -1 && (stopIndex === -1 || found < stopIndex)) stopIndex = found
    }
    if (stopIndex !== -1) {
      this.stoppedAt = stopIndex
      const text = this.decoded.slice(this.emittedLength, Math.max(stopIndex, this.emittedLength))
      this.emittedLength = Math.max(stopIndex, this.emittedLength)
      return { text, stopped: true }
    }
    const end = final ? this.decoded.length : this.decoded.length - this.heldBack()
    const text = this.decoded.slice(this.emittedLength, end)
    this.emittedLength = Math.max(end, this.emittedLength)
    return { text, stopped: false }
  }

  private longestStop(): number {
    let longest = 1
    for (const stop of this.stopStrings) longest = Math.max(longest, stop.length)
    return longest
  }

  /** Length of the longest suffix of the decoded text that is a proper prefix of a stop string. */
  private heldBack(): number {
    let held = 0
    for (const stop of this.stopStrings) {
      for (let length = Math.min(stop.length - 1, this.decoded.length); length > held; length--) {
        if (this.decoded.endsWith(stop.slice(0, length))) {
          held = length
          break
        }
      }
    }
    return held
  }
}
