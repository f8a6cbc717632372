/**
 * Rendering a whole conversation (system prompt, earlier exchanges, the new user message) into prompt token ids
 * through the model's chat template, for multi-turn chat. When the conversation does not fit the model's context
 * with room for the reply, the oldest exchanges are left out (the system prompt and the new message stay), as
 * local chat apps do; how many were left out is reported.
 */
import type { TextTokenizer } from './text-tokenizer.ts'
import { TillerError } from '../errors.ts'
import { chatTemplateOf, renderChatTemplate, type TemplateMessage } from '../models/chat-template.ts'

/** One earlier exchange as this column saw it. */
export interface Exchange {
  user: string
  assistant: string
}

/** What to render. */
export interface ConversationInput {
  /** Empty for none: the template then sees no system message. */
  systemPrompt: string
  history: readonly Exchange[]
  message: string
}

/** The model's limits. */
export interface ConversationLimits {
  /** Tokens that will be generated after the prompt. */
  maxTokens: number
  /** The model's context (max_position_embeddings). */
  contextLength: number
}

/** A rendered conversation. */
export interface RenderedConversation {
  /** Exactly the text that was tokenized. */
  text: string
  ids: number[]
  /** Oldest exchanges left out to fit the context. */
  droppedTurns: number
  usedChatTemplate: boolean
}

/** The messages of `input` from exchange `first` on, in the order a chat template reads them. */
export function conversationMessages(input: ConversationInput, first = 0): TemplateMessage[] {
  const messages: TemplateMessage[] = []
  if (input.systemPrompt.trim() !== '') messages.push({ role: 'system', content: input.systemPrompt })
  for (const exchange of input.history.slice(first)) {
    messages.push(
      { role: 'user', content: exchange.user },
      { role: 'assistant', content: exchange.assistant },
    )
  }
  messages.push({ role: 'user', content: input.message })
  return messages
}

/** Models without a chat template: plain `System:`/`User:`/`Assistant:` lines ending in the assistant's cue. */
function plainText(messages: readonly TemplateMessage[]): string {
  const names: Record<string, string> = { system: 'System', user: 'User', assistant: 'Assistant' }
  const lines = messages.map((message) => `${names[message.role] ?? message.role}: ${message.content}`)
  return `${lines.join('\n')}\nAssistant:`
}

function encode(tokenizer: TextTokenizer, messages: readonly TemplateMessage[]): RenderedConversation {
  const template = chatTemplateOf(tokenizer)
  if (template !== undefined) {
    const text = renderChatTemplate(tokenizer, template, [...messages], true)
    // The template writes special tokens (BOS, role markers) itself.
    return {
      text,
      ids: tokenizer.encode(text, { add_special_tokens: false }),
      droppedTurns: 0,
      usedChatTemplate: true,
    }
  }
  const text = plainText(messages)
  return { text, ids: tokenizer.encode(text), droppedTurns: 0, usedChatTemplate: false }
}

/**
 * Render `input` for `tokenizer`, leaving out the oldest exchanges until the prompt plus `maxTokens` fits the
 * context. Throws TillerError 'empty-prompt' for a blank message and 'prompt-too-long' when even the system prompt
 * and the new message alone do not fit.
 */
export function renderConversation(
  tokenizer: TextTokenizer,
  input: ConversationInput,
  limits: ConversationLimits,
): RenderedConversation {
  if (input.message.trim() === '') {
    throw new TillerError('empty-prompt', 'The message is empty. Type a message to send.', {
      subject: 'message',
    })
  }
  const room = limits.contextLength - limits.maxTokens
  // Each exchange dropped shortens the prompt, so the first that fits is the longest history that fits.
  for (let first = 0; first <= input.history.length; first += 1) {
    const rendered = encode(tokenizer, conversationMessages(input, first))
    if (rendered.ids.length <= room) {
      return { ...rendered, droppedTurns: first }
    }
    if (first === input.history.length) {
      const reason =
        input.systemPrompt.trim() === '' ? 'shorten the message' : 'shorten the message or the system prompt'
      throw new TillerError(
        'prompt-too-long',
        `The message alone renders to ${rendered.ids.length} tokens and ${limits.maxTokens} more were asked for, ` +
          `but the model's context is ${limits.contextLength} tokens; ${reason}, or lower Max tokens to at most ` +
          `${Math.max(0, limits.contextLength - rendered.ids.length)}.`,
        { subject: 'message' },
      )
    }
  }
  throw new TillerError('internal', 'The conversation could not be rendered.')
}
