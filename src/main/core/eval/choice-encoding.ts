import type { PlainFormat, RenderTokenizer } from '../data/render.ts'
import type { ChoiceRow } from '../data/schema.ts'
import type { EncodedChoiceItem } from './choice-scorer.ts'
import type { EncodedText } from './fluency.ts'

/**
 * Multiple-choice rows and reference texts as token ids for a model: the question as a user turn through the
 * chat template (or the plain format when the model has none) with the generation prompt, each choice as the
 * assistant's reply. A choice's tokens are those of prompt + choice after the prompt's, so tokenizers that merge
 * across the boundary score what the model would read; when the prompt's tokens are not a prefix, the choice is
 * encoded alone.
 */

/** How items are rendered. */
export interface ChoiceRenderOptions {
  systemPrompt?: string
  plain?: PlainFormat
}

function promptText(tokenizer: RenderTokenizer, question: string, options: ChoiceRenderOptions): string {
  if (tokenizer.chatTemplate === undefined)
    return (options.plain?.prompt ?? '{prompt}').replace('{prompt}', question)
  const messages = [
    ...(options.systemPrompt === undefined
      ? []
      : [{ role: 'system' as const, content: options.systemPrompt }]),
    { role: 'user' as const, content: question },
  ]
  return tokenizer.applyChatTemplate(messages, true)
}

function continuationTokens(
  tokenizer: RenderTokenizer,
  prompt: string,
  promptTokens: number[],
  choice: string,
  special: boolean,
): number[] {
  const whole = tokenizer.encode(prompt + choice, special)
  const prefix = promptTokens.every((token, index) => whole[index] === token)
  if (prefix && whole.length > promptTokens.length) return whole.slice(promptTokens.length)
  return tokenizer.encode(choice, false)
}

/** Encode rows for scoring. */
export function encodeChoiceRows(
  rows: readonly ChoiceRow[],
  tokenizer: RenderTokenizer,
  options: ChoiceRenderOptions = {},
): EncodedChoiceItem[] {
  // Chat templates write the begin token themselves; a plain prompt gets the tokenizer's own special tokens.
  const special = tokenizer.chatTemplate === undefined
  const prefix = tokenizer.chatTemplate === undefined ? (options.plain?.completionPrefix ?? ' ') : ''
  return rows.map((row) => {
    const text = promptText(tokenizer, row.question, options)
    const prompt = tokenizer.encode(text, special)
    return {
      id: row.id,
      prompt,
      choices: row.choices.map((choice) =>
        continuationTokens(tokenizer, text, prompt, prefix + choice, special),
      ),
      correct: [...row.correct],
    }
  })
}

/** Encode reference texts with the tokenizer's special tokens, the begin token first when the model has one. */
export function encodeTexts(
  texts: readonly string[],
  tokenizer: RenderTokenizer,
  beginTokenId: number | undefined,
): EncodedText[] {
  return texts.map((text) => {
    const tokens = tokenizer.encode(text, true)
    if (beginTokenId !== undefined && tokens[0] !== beginTokenId) tokens.unshift(beginTokenId)
    return { text, tokens }
  })
}
