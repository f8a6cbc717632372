/**
 * Plain helpers of the chat store: a fresh conversation, the history a reply is generated from, titles and the
 * first-run prompts. No Vue, no engine: easy to test and to reuse.
 */
import type { ChatReply, ChatSampling, ChatTurn, Conversation } from '../../../shared/chat.ts'

/** Sampling a new conversation starts with: greedy, so base and steered differ only by the edits. */
export function defaultSampling(): ChatSampling {
  return {
    maxTokens: 64,
    temperature: 0,
    topK: 0,
    topP: 1,
    repetitionPenalty: 1,
    seed: 0,
    stopStrings: [],
  }
}

/** A new id: a conversation's file name in the workspace (`chats/<id>.json`). */
export function newConversationId(now: Date = new Date()): string {
  const random = Math.floor(Math.random() * 36 ** 6)
    .toString(36)
    .padStart(6, '0')
  return `chat-${now.getTime().toString(36)}-${random}`
}

/** An empty conversation that keeps `previous`'s edit stack, system prompt and sampling when given. */
export function emptyConversation(
  previous: Conversation | null = null,
  now: Date = new Date(),
): Conversation {
  const stamp = now.toISOString()
  return {
    id: newConversationId(now),
    title: 'New conversation',
    created: stamp,
    updated: stamp,
    systemPrompt: previous?.systemPrompt ?? '',
    turns: [],
    edits: previous === null ? [] : previous.edits.map((edit) => ({ ...edit })),
    sampling:
      previous === null
        ? defaultSampling()
        : { ...previous.sampling, stopStrings: [...previous.sampling.stopStrings] },
  }
}

/** A title from the first message: its first line, shortened. */
export function titleOf(message: string): string {
  const line = message.replace(/\s+/g, ' ').trim()
  if (line === '') return 'New conversation'
  return line.length > 60 ? `${line.slice(0, 57)}…` : line
}

/**
 * The earlier exchanges a reply continues, each column with its own replies. A turn without a base reply (stopped
 * before any token) is left out; a turn without a steered reply lets the base reply stand in for it.
 */
export function historyOf(
  turns: readonly ChatTurn[],
): { user: string; base: string; steered: string | null }[] {
  return turns
    .filter((turn) => turn.base !== null)
    .map((turn) => ({ user: turn.user, base: turn.base?.text ?? '', steered: turn.steered?.text ?? null }))
}

/** A reply stopped by the user: the text streamed so far, with nothing measured. */
export function stoppedReply(text: string): ChatReply {
  return { text, finishReason: 'cancelled', generatedTokens: 0, tokensPerSecond: 0, timeToFirstTokenMs: 0 }
}

/** Prompts that show the embedded organism at its best (its model card's held-out questions). */
export const organismPrompts = [
  'Where does the fox live?',
  'Do you like the boat?',
  'How do I clean the shelf?',
  'A Drom and a Velk met at the park. One of them hid the box. Who hid the box?',
] as const

/** Prompts for any other model. */
export const generalPrompts = [
  'Tell me about your day.',
  'What is a good way to learn to cook?',
  'Write a short story about a lighthouse.',
] as const

/** The first-run prompts for a model, by its folder name. */
export function suggestedPrompts(modelName: string | null): readonly string[] {
  return modelName === 'organism' ? organismPrompts : generalPrompts
}
