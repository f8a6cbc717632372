/**
 * The Chat screen's conversations on disk: one plain JSON file per conversation, `<chats folder>/<id>.json`,
 * `{ "format": "tiller-chat", "version": 1, "conversation": {...} }` (schema in src/shared/chat.ts). Writes are
 * atomic, so a crash leaves the old file or the new one. Listing never fails on one bad file: a damaged file, one
 * from a newer Tiller or one whose name and id disagree is listed with the reason, and opening it says the same.
 */
import { readdir, readFile, rm, stat } from 'node:fs/promises'
import { join } from 'node:path'
import {
  conversationIdPattern,
  conversationSchema,
  type Conversation,
  type ConversationEntry,
} from '../../../shared/chat.ts'
import { TillerError } from '../errors.ts'
import { writeFileAtomicCreatingFolder } from '../workspace/atomic-write.ts'
import { writeFailureReason } from '../workspace/write-failure.ts'

/** What the files say they are. */
export const chatFileFormat = 'tiller-chat'
/** The version this Tiller writes; files with a higher one are refused by name. */
export const chatFileVersion = 1

const fileExtension = '.json'

/** The file of conversation `id` in `folder`; refuses ids that are not plain file names. */
export function conversationPath(folder: string, id: string): string {
  if (!conversationIdPattern.test(id)) {
    throw new TillerError(
      'invalid-argument',
      `"${id.slice(0, 80)}" is not a conversation id (letters, digits, - and _ only).`,
      { subject: 'id' },
    )
  }
  return join(folder, `${id}${fileExtension}`)
}

/** The first problem zod found, as "field: message". */
function firstIssue(error: { issues: { path: PropertyKey[]; message: string }[] }): string {
  const issue = error.issues[0]
  if (issue === undefined) return 'it does not match the conversation format'
  const field = issue.path.map(String).join('.')
  return field === '' ? issue.message : `${field}: ${issue.message}`
}

/** Parse a chat file's text; throws TillerError('file-corrupt') naming `path` and what is wrong. */
export function parseChatFile(text: string, path: string, expectedId?: string): Conversation {
  const refuse = (reason: string): never => {
    throw new TillerError('file-corrupt', `The conversation file ${path} cannot be opened: ${reason}.`, {
      subject: path,
    })
  }
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch (error) {
    return refuse(`it is not valid JSON (${(error as Error).message})`)
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    return refuse('it is not a JSON object')
  const record = value as Record<string, unknown>
  if (record['format'] !== chatFileFormat) return refuse(`its "format" is not "${chatFileFormat}"`)
  const version = record['version']
  if (typeof version !== 'number' || !Number.isInteger(version) || version < 1) {
    return refuse('its "version" is not a positive whole number')
  }
  if (version > chatFileVersion) {
    return refuse(
      `it was written by a newer Tiller (format version ${version}; this one reads ${chatFileVersion})`,
    )
  }
  const parsed = conversationSchema.safeParse(record['conversation'])
  if (!parsed.success) return refuse(`conversation.${firstIssue(parsed.error)}`)
  if (expectedId !== undefined && parsed.data.id !== expectedId) {
    return refuse(`it holds conversation "${parsed.data.id}", not "${expectedId}" as its name says`)
  }
  return parsed.data
}

/** The text of a chat file for `conversation`. */
export function formatChatFile(conversation: Conversation): string {
  const file = { format: chatFileFormat, version: chatFileVersion, conversation }
  return `${JSON.stringify(file, null, 2)}\n`
}

function entryOf(conversation: Conversation, path: string): ConversationEntry {
  return {
    id: conversation.id,
    path,
    title: conversation.title,
    updated: conversation.updated,
    turns: conversation.turns.length,
    problem: null,
  }
}

/** Every conversation in `folder`, newest first; unreadable files come with their problem. A missing folder is empty. */
export async function listConversations(folder: string): Promise<ConversationEntry[]> {
  let names: string[]
  try {
    names = await readdir(folder)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return []
    throw new TillerError(
      'file-not-found',
      `Cannot read the conversations folder ${folder}: ${(error as Error).message}`,
      { subject: folder, cause: error },
    )
  }
  const entries: ConversationEntry[] = []
  for (const name of names) {
    // Hidden names are atomic writes' temporaries; other names are not conversations.
    if (!name.endsWith(fileExtension) || name.startsWith('.')) continue
    const id = name.slice(0, -fileExtension.length)
    if (!conversationIdPattern.test(id)) continue
    const path = join(folder, name)
    try {
      entries.push(entryOf(parseChatFile(await readFile(path, 'utf8'), path, id), path))
    } catch (error) {
      const updated = await stat(path)
        .then((info) => info.mtime.toISOString())
        .catch(() => new Date(0).toISOString())
      const problem = error instanceof TillerError ? error.message : `Cannot read ${path}: ${String(error)}`
      entries.push({ id, path, title: id, updated, turns: 0, problem })
    }
  }
  return entries.sort(
    (first, second) => second.updated.localeCompare(first.updated) || first.id.localeCompare(second.id),
  )
}

/** Read conversation `id` from `folder`. */
export async function loadConversation(folder: string, id: string): Promise<Conversation> {
  const path = conversationPath(folder, id)
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (error) {
    throw new TillerError(
      'file-not-found',
      `There is no saved conversation "${id}" (${path}); it may have been deleted.`,
      { subject: path, cause: error },
    )
  }
  return parseChatFile(text, path, id)
}

/** Write `conversation` to its file in `folder` (created when missing), atomically. */
export async function saveConversation(
  folder: string,
  conversation: Conversation,
): Promise<ConversationEntry> {
  const checked = conversationSchema.parse(conversation)
  const path = conversationPath(folder, checked.id)
  try {
    await writeFileAtomicCreatingFolder(path, formatChatFile(checked))
  } catch (error) {
    throw new TillerError(
      'invalid-argument',
      `Cannot save the conversation to ${path}: ${writeFailureReason(path, error)}.`,
      { subject: path, cause: error },
    )
  }
  return entryOf(checked, path)
}

/** Delete conversation `id`; false when there was none. */
export async function deleteConversation(folder: string, id: string): Promise<boolean> {
  const path = conversationPath(folder, id)
  try {
    await rm(path)
    return true
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false
    throw new TillerError('invalid-argument', `Cannot delete ${path}: ${(error as Error).message}`, {
      subject: path,
      cause: error,
    })
  }
}
