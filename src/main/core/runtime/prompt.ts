/**
 * Turning a user's prompt text into token ids: plain (the tokenizer's own special tokens, e.g. BOS for Llama) or
 * as a chat turn (the tokenizer's chat template, or a plain format for models without one).
 */
import type { TextTokenizer } from './text-tokenizer.ts'
import { TillerError } from '../errors.ts'
import { chatTemplateOf, renderChatTemplate } from '../models/chat-template.ts'

/** Format for `--chat` on models without a chat template; `{prompt}` is replaced by the user's text. */
export const defaultPlainChatFormat = 'User: {prompt}\nAssistant:'

/** How to render a prompt. */
export interface PromptOptions {
  /** Render as one user turn followed by the assistant's generation prompt. */
  chat?: boolean
  /** Used with `chat` when the tokenizer has no chat template; must contain `{prompt}`. */
  plainChatFormat?: string
  /** Tokens that will be generated after the prompt; prompt + maxTokens must fit the context. */
  maxTokens: number
  /** The model's context (max_position_embeddings). */
  contextLength: number
}

/** A rendered prompt. */
export interface RenderedPrompt {
  /** Exactly the text that was tokenized (template applied). */
  text: string
  ids: number[]
  /** Whether the tokenizer's chat template was used. */
  usedChatTemplate: boolean
}

/**
 * Render `prompt` for `tokenizer`. Throws TillerError 'empty-prompt' for an empty (or blank) prompt and
 * 'prompt-too-long' when the prompt plus `maxTokens` exceeds `contextLength`.
 */
export function renderPrompt(
  tokenizer: TextTokenizer,
  prompt: string,
  options: PromptOptions,
): RenderedPrompt {
  if (prompt.trim() === '') {
    throw new TillerError('empty-prompt', 'The prompt is empty; pass some text with --prompt.', {
      subject: 'prompt',
    })
  }
  let rendered: RenderedPrompt
  const template = options.chat === true ? chatTemplateOf(tokenizer) : undefined
  if (template !== undefined) {
    const text = renderChatTemplate(tokenizer, template, [{ role: 'user', content: prompt }], true)
    // The template writes special tokens (BOS, role markers) itself.
    rendered = { text, ids: tokenizer.encode(text, { add_special_tokens: false }), usedChatTemplate: true }
  } else if (options.chat === true) {
    const format = options.plainChatFormat ?? defaultPlainChatFormat
    if (!format.includes('{prompt}')) {
      throw new TillerError(
        'invalid-argument',
        `The chat format "${format}" has no {prompt} placeholder; add one.`,
        {
          subject: 'plainChatFormat',
        },
      )
    }
    const text = format.replace('{prompt}', prompt)
    rendered = { text, ids: tokenizer.encode(text), usedChatTemplate: false }
  } else {
    rendered = { text: prompt, ids: tokenizer.encode(prompt), usedChatTemplate: false }
  }
  const total = rendered.ids.length + options.maxTokens
  if (rendered.ids.length >= options.contextLength) {
    // No --max-tokens helps: even one new token would not fit.
    throw new TillerError(
      'prompt-too-long',
      `The prompt is ${rendered.ids.length} tokens, which fills the model's whole context ` +
        `(max_position_embeddings ${options.contextLength}) and leaves no room for a new token; shorten it to at ` +
        `most ${options.contextLength - 1} tokens.`,
      { subject: 'prompt' },
    )
  }
  if (total > options.contextLength) {
    throw new TillerError(
      'prompt-too-long',
      `The prompt is ${rendered.ids.length} tokens and ${options.maxTokens} more were asked for (${total} in all), ` +
        `but the model's context (max_position_embeddings) is ${options.contextLength}; shorten the prompt or ` +
        `lower --max-tokens to at most ${options.contextLength - rendered.ids.length}.`,
      { subject: 'prompt' },
    )
  }
  return rendered
}
