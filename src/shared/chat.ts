/**
 * Conversations of the Chat screen: the turns with their base and steered replies, the edits stacked on the
 * steered column, and the sampling settings. The zod schemas are the one definition: `chat:save` parses its
 * argument with them and the engine's chat files (`chats/<id>.json`) are checked with them when read.
 */
import { z } from 'zod'
import type { FinishReason } from './generation.ts'

/** Conversation ids are file names in the workspace's `chats` folder, so only these characters. */
export const conversationIdPattern = /^[A-Za-z0-9][A-Za-z0-9_-]{0,79}$/

export const conversationIdSchema = z
  .string()
  .regex(
    conversationIdPattern,
    'A conversation id is 1–80 letters, digits, - or _, starting with a letter or digit.',
  )

const finishReasonSchema = z.enum(['eos', 'stop', 'length', 'cancelled'] satisfies FinishReason[])

/** One generated reply, with what the engine measured while producing it. */
export const chatReplySchema = z.strictObject({
  text: z.string().max(200_000),
  finishReason: finishReasonSchema,
  generatedTokens: z.int().min(0),
  /** Decode rate of this reply's row. */
  tokensPerSecond: z.number().min(0),
  /** From the start of generation (prompt ready, sessions loaded) to this row's first token. */
  timeToFirstTokenMs: z.number().min(0),
})

export type ChatReply = z.output<typeof chatReplySchema>

/** One edit on the steered column's stack: its strength and whether it is switched on. */
export const chatEditSettingSchema = z.strictObject({
  id: z.string().trim().min(1).max(200),
  /** The label shown for it (kept so a saved conversation can name edits the engine no longer holds). */
  label: z.string().max(400).default(''),
  strength: z.number().min(-1000).max(1000),
  enabled: z.boolean(),
})

export type ChatEditSetting = z.output<typeof chatEditSettingSchema>

/** One exchange: the user's message and each column's reply (null while not generated, or with no edit on). */
export const chatTurnSchema = z.strictObject({
  user: z.string().max(200_000),
  base: chatReplySchema.nullable(),
  steered: chatReplySchema.nullable(),
  /** The edits that produced `steered` (enabled ones only), for the record. */
  steeredWith: z.array(chatEditSettingSchema).max(8).default([]),
  seed: z.int().min(0).nullable().default(null),
})

export type ChatTurn = z.output<typeof chatTurnSchema>

/** Sampling settings saved with a conversation (the same fields as the contract's generation options). */
export const chatSamplingSchema = z.strictObject({
  maxTokens: z.int().min(1).max(4096),
  temperature: z.number().min(0).max(5),
  topK: z.int().min(0).max(100_000),
  topP: z.number().gt(0).max(1),
  repetitionPenalty: z.number().min(0.5).max(3),
  seed: z
    .int()
    .min(0)
    .max(2 ** 32 - 1),
  stopStrings: z.array(z.string().min(1).max(200)).max(8),
})

export type ChatSampling = z.output<typeof chatSamplingSchema>

/** A whole conversation as `chat:save` takes it and `chat:load` gives it back. */
export const conversationSchema = z.strictObject({
  id: conversationIdSchema,
  title: z.string().max(200),
  /** ISO 8601. */
  created: z.string().max(40),
  updated: z.string().max(40),
  systemPrompt: z.string().max(20_000),
  turns: z.array(chatTurnSchema).max(1000),
  edits: z.array(chatEditSettingSchema).max(8),
  sampling: chatSamplingSchema,
})

export type Conversation = z.output<typeof conversationSchema>

/** One saved conversation as `chat:list` reports it; a file that cannot be read is listed with the reason. */
export interface ConversationEntry {
  id: string
  /** The file in the workspace's `chats` folder. */
  path: string
  title: string
  /** ISO 8601; for an unreadable file, the file's modification time. */
  updated: string
  turns: number
  /** Why the file cannot be opened (damaged, from a newer Tiller, …); null when it reads fine. */
  problem: string | null
}

/** A streamed piece of one column's reply (event `chat:token`). */
export interface ChatToken {
  job: string
  column: 'base' | 'steered'
  /** Text that extends the column's reply (may be empty until a character completes). */
  text: string
}

/** Job result of `chat:send`. */
export interface ChatSendResult {
  base: ChatReply
  /** Null when no edit was switched on: only the base column was generated. */
  steered: ChatReply | null
  /** The seed both rows sampled with. */
  seed: number
  /** Prompt tokens of each column's rendered conversation. */
  promptTokens: { base: number; steered: number | null }
  /** Oldest exchanges left out so the conversation fits the model's context (0 when all fit). */
  droppedTurns: number
}
