/**
 * Rendering contrast pairs into token sequences with exact spans (DESIGN.md §5).
 *
 * With the model's chat template the prompt is the user turn and the completion the assistant turn; the rendered
 * text stops right after the completion (the turn is left open, as CAA and repeng read it), so the last token is the
 * completion's. A model without a template gets the plain format. `raw` rendering (ActAdd) tokenizes
 * `prompt + completion` with the tokenizer's special tokens (BOS) and treats the whole text as a prompt.
 *
 * Spans are token indices `[start, end)` into `tokenIds`. A boundary inside the text maps to the number of leading
 * tokens that the prefix and the whole text share, so a token straddling the boundary belongs to the later span.
 */
import { TillerError } from '../errors.ts'
import type { ContrastPair, ContrastSide } from './pairs.ts'

/** One chat message. */
export interface ChatMessage {
  role: 'system' | 'user' | 'assistant'
  content: string
}

/** What rendering needs from a tokenizer (see `tokenizer.ts` for the Transformers.js adapter). */
export interface RenderTokenizer {
  /** Token ids of `text`; `addSpecialTokens` adds what the tokenizer adds by default (e.g. BOS). */
  encode(text: string, addSpecialTokens: boolean): number[]
  decode(tokenIds: number[]): string
  /** The chat template (Jinja source), or undefined when the model has none. */
  chatTemplate: string | undefined
  /** Render messages through the chat template to text. */
  applyChatTemplate(messages: ChatMessage[], addGenerationPrompt: boolean): string
  /** The token a bare space becomes after a word (ActAdd's padding token); undefined when spaces vanish. */
  spaceTokenId: number | undefined
}

/** The format for models without a chat template: `prompt` with `{prompt}` replaced, then prefix + completion. */
export interface PlainFormat {
  prompt: string
  completionPrefix: string
}

/** How pairs are rendered; `renderPairs` merges overrides over `defaultRenderOptions`. */
export interface RenderOptions {
  /** Where the two sides differ: `completion` = the assistant turn; `prompt` = appended to the user turn. */
  contrast: 'completion' | 'prompt'
  /** `chat`: the chat template, or `plain` when the model has none; `raw`: BOS + text (ActAdd). */
  format: 'chat' | 'raw'
  plain: PlainFormat
  systemPrompt: string | undefined
  /** Right-pad the shorter side with the space token to the longer side's length (ActAdd, `raw` only). */
  padToEqualLength: boolean
  /** Locate the answer letter of every completion; a completion without one is an error (CAA). */
  requireAnswerLetter: boolean
  /** Refuse sequences longer than this many tokens. */
  maxTokens: number
}

/** The plain format: the prompt as is, a space, then the completion. */
export const defaultPlainFormat: PlainFormat = { prompt: '{prompt}', completionPrefix: ' ' }

/** Chat template, contrast in the completion, no padding, no letter search, at most 4096 tokens. */
export const defaultRenderOptions: RenderOptions = {
  contrast: 'completion',
  format: 'chat',
  plain: defaultPlainFormat,
  systemPrompt: undefined,
  padToEqualLength: false,
  requireAnswerLetter: false,
  maxTokens: 4096,
}

/** Token indices `[start, end)`. */
export interface TokenSpan {
  start: number
  end: number
}

/** One rendered side of a pair. */
export interface RenderedSequence {
  text: string
  tokenIds: number[]
  /** Everything up to where the assistant would start writing: template tokens, user turn, generation prompt. */
  prompt: TokenSpan
  /** The completion's tokens (empty when the contrast is in the prompt, or for `raw`). */
  completion: TokenSpan
  /** `prompt.end − 1`. */
  lastPromptToken: number
  /** `prompt.end`: the first position that belongs to the assistant's turn. */
  assistantStart: number
  /** The token holding the answer letter, e.g. "A" of "(A)". */
  answerLetter: number | undefined
  /** Space tokens appended by `padToEqualLength`. */
  padding: number
}

/** Both rendered sides of one contrast pair, with the source lines for messages. */
export interface RenderedExample {
  id: string
  lines: number[]
  positive: RenderedSequence
  negative: RenderedSequence
}

/** How the text was produced, recorded in edit files. */
export type RenderFormat =
  | { kind: 'chat-template'; template: string; systemPrompt: string | undefined }
  | { kind: 'plain'; prompt: string; completionPrefix: string }
  | { kind: 'raw' }

/** A rendered demonstration set: what capture consumes, plus the format recorded in edit files. */
export interface RenderedSet {
  source: string
  format: RenderFormat
  contrast: RenderOptions['contrast']
  examples: RenderedExample[]
}

interface SideText {
  text: string
  /** Character index where the prompt part ends. */
  promptEnd: number
  /** Character range of the completion in `text`, when the completion is a separate turn. */
  completion: { start: number; end: number } | undefined
  addSpecialTokens: boolean
}

/** Answer letters: "(A)", "A)", or a lone capital "A" opening the completion. */
const answerLetterPatterns = [/^\s*\(([A-Z])\)/, /^\s*([A-Z])\)/, /^\s*([A-Z])(?![A-Za-z])/]

function joinUserText(side: ContrastSide): string {
  return side.prompt === '' ? side.completion : `${side.prompt}\n${side.completion}`
}

function withSystem(systemPrompt: string | undefined, messages: ChatMessage[]): ChatMessage[] {
  return systemPrompt === undefined ? messages : [{ role: 'system', content: systemPrompt }, ...messages]
}

function chatText(
  tokenizer: RenderTokenizer,
  side: ContrastSide,
  options: RenderOptions,
  where: string,
): SideText {
  if (options.contrast === 'prompt') {
    const user: ChatMessage = { role: 'user', content: joinUserText(side) }
    const text = tokenizer.applyChatTemplate(withSystem(options.systemPrompt, [user]), true)
    return { text, promptEnd: text.length, completion: undefined, addSpecialTokens: false }
  }
  const user: ChatMessage = { role: 'user', content: side.prompt }
  const promptText = tokenizer.applyChatTemplate(withSystem(options.systemPrompt, [user]), true)
  const assistant: ChatMessage = { role: 'assistant', content: side.completion }
  const fullText = tokenizer.applyChatTemplate(withSystem(options.systemPrompt, [user, assistant]), false)
  const content = side.completion.trim()
  const start = fullText.startsWith(promptText) ? fullText.indexOf(content, promptText.length) : -1
  if (start < 0) {
    throw new TillerError(
      'invalid-dataset',
      `${where}: the chat template does not render the conversation as prompt followed by the completion, so ` +
        'token spans cannot be located; use the plain format for this model.',
      { subject: where },
    )
  }
  return {
    text: fullText.slice(0, start + content.length),
    promptEnd: promptText.length,
    completion: { start, end: start + content.length },
    addSpecialTokens: false,
  }
}

function plainText(side: ContrastSide, options: RenderOptions): SideText {
  const fill = (prompt: string) => options.plain.prompt.split('{prompt}').join(prompt)
  if (options.contrast === 'prompt') {
    const text = fill(joinUserText(side))
    return { text, promptEnd: text.length, completion: undefined, addSpecialTokens: true }
  }
  const promptText = side.prompt === '' ? '' : fill(side.prompt)
  const prefix = promptText === '' ? '' : options.plain.completionPrefix
  const start = promptText.length + prefix.length
  const text = promptText + prefix + side.completion
  return {
    text,
    promptEnd: promptText.length,
    completion: { start, end: text.length },
    addSpecialTokens: true,
  }
}

function rawText(side: ContrastSide): SideText {
  const text = side.prompt + side.completion
  return { text, promptEnd: text.length, completion: undefined, addSpecialTokens: true }
}

/** Number of leading tokens `text.slice(0, characters)` shares with the tokenization of the whole text. */
function tokenBoundary(
  tokenizer: RenderTokenizer,
  side: SideText,
  tokenIds: readonly number[],
  characters: number,
): number {
  if (characters >= side.text.length) return tokenIds.length
  const prefix = tokenizer.encode(side.text.slice(0, characters), side.addSpecialTokens)
  let shared = 0
  while (shared < prefix.length && shared < tokenIds.length && prefix[shared] === tokenIds[shared]) shared++
  return shared
}

function findAnswerLetter(
  tokenizer: RenderTokenizer,
  side: SideText,
  tokenIds: readonly number[],
): number | undefined {
  if (side.completion === undefined) return undefined
  const completion = side.text.slice(side.completion.start, side.completion.end)
  for (const pattern of answerLetterPatterns) {
    const match = pattern.exec(completion)
    if (match === null) continue
    const letter = match[1] as string
    const character = side.completion.start + match[0].lastIndexOf(letter)
    const token = tokenBoundary(tokenizer, side, tokenIds, character)
    const tokenId = tokenIds[token]
    if (tokenId !== undefined && tokenizer.decode([tokenId]).includes(letter)) return token
  }
  return undefined
}

function renderSide(
  tokenizer: RenderTokenizer,
  side: ContrastSide,
  options: RenderOptions,
  where: string,
): RenderedSequence {
  const sideText =
    options.format === 'raw'
      ? rawText(side)
      : tokenizer.chatTemplate === undefined
        ? plainText(side, options)
        : chatText(tokenizer, side, options, where)
  const tokenIds = tokenizer.encode(sideText.text, sideText.addSpecialTokens)
  if (tokenIds.length === 0) {
    throw new TillerError('invalid-dataset', `${where}: renders to no tokens.`, { subject: where })
  }
  if (tokenIds.length > options.maxTokens) {
    throw new TillerError(
      'invalid-dataset',
      `${where}: renders to ${tokenIds.length} tokens, over the limit of ${options.maxTokens}; shorten the row.`,
      { subject: where },
    )
  }
  const promptEnd = tokenBoundary(tokenizer, sideText, tokenIds, sideText.promptEnd)
  if (promptEnd === 0) {
    throw new TillerError('invalid-dataset', `${where}: the prompt renders to no tokens of its own.`, {
      subject: where,
    })
  }
  const completion =
    sideText.completion === undefined
      ? { start: promptEnd, end: promptEnd }
      : {
          start: Math.max(promptEnd, tokenBoundary(tokenizer, sideText, tokenIds, sideText.completion.start)),
          end: tokenBoundary(tokenizer, sideText, tokenIds, sideText.completion.end),
        }
  const answerLetter = options.requireAnswerLetter
    ? findAnswerLetter(tokenizer, sideText, tokenIds)
    : undefined
  if (options.requireAnswerLetter && answerLetter === undefined) {
    throw new TillerError(
      'invalid-dataset',
      `${where}: no answer letter found in the completion; write it as "(A)", "A)" or "A" at the start.`,
      { subject: where },
    )
  }
  return {
    text: sideText.text,
    tokenIds,
    prompt: { start: 0, end: promptEnd },
    completion,
    lastPromptToken: promptEnd - 1,
    assistantStart: promptEnd,
    answerLetter,
    padding: 0,
  }
}

function padTo(
  sequence: RenderedSequence,
  length: number,
  spaceTokenId: number | undefined,
  where: string,
): RenderedSequence {
  const padding = length - sequence.tokenIds.length
  if (padding <= 0) return sequence
  if (spaceTokenId === undefined) {
    throw new TillerError(
      'invalid-dataset',
      `${where}: the two prompts differ in length and this tokenizer has no space token to pad the shorter ` +
        'one with; give both sides prompts of the same token length.',
      { subject: where },
    )
  }
  const end = sequence.prompt.end + padding
  return {
    ...sequence,
    tokenIds: [...sequence.tokenIds, ...new Array<number>(padding).fill(spaceTokenId)],
    prompt: { start: 0, end },
    completion: { start: end, end },
    lastPromptToken: end - 1,
    assistantStart: end,
    padding,
  }
}

function describeFormat(tokenizer: RenderTokenizer, options: RenderOptions): RenderFormat {
  if (options.format === 'raw') return { kind: 'raw' }
  if (tokenizer.chatTemplate === undefined) return { kind: 'plain', ...options.plain }
  return { kind: 'chat-template', template: tokenizer.chatTemplate, systemPrompt: options.systemPrompt }
}

/**
 * Render every pair through the tokenizer. Errors name the source file, line and row id.
 * @returns sequences with token ids and spans `[start, end)` for prompt, completion, answer letter
 */
export function renderPairs(
  pairs: readonly ContrastPair[],
  tokenizer: RenderTokenizer,
  source: string,
  overrides: Partial<RenderOptions> = {},
): RenderedSet {
  const options: RenderOptions = { ...defaultRenderOptions, ...overrides }
  if (options.padToEqualLength && options.format !== 'raw') {
    throw new TillerError('invalid-argument', 'Padding to equal length applies to raw rendering only.')
  }
  if (!options.plain.prompt.includes('{prompt}')) {
    throw new TillerError(
      'invalid-argument',
      `The plain prompt format "${options.plain.prompt}" lacks {prompt}.`,
    )
  }
  const examples = pairs.map((pair) => {
    const where = `${source}:${pair.lines.join('/')} (id "${pair.id}")`
    let positive = renderSide(tokenizer, pair.positive, options, `${where}, positive side`)
    let negative = renderSide(tokenizer, pair.negative, options, `${where}, negative side`)
    if (options.padToEqualLength) {
      const length = Math.max(positive.tokenIds.length, negative.tokenIds.length)
      positive = padTo(positive, length, tokenizer.spaceTokenId, `${where}, positive side`)
      negative = padTo(negative, length, tokenizer.spaceTokenId, `${where}, negative side`)
    }
    return { id: pair.id, lines: pair.lines, positive, negative }
  })
  return { source, format: describeFormat(tokenizer, options), contrast: options.contrast, examples }
}
