import { mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { beforeEach, describe, expect, test } from 'vitest'
import {
  chatFileVersion,
  deleteConversation,
  formatChatFile,
  listConversations,
  loadConversation,
  saveConversation,
} from '../../src/main/core/chats/chat-files.ts'
import { isTillerError } from '../../src/main/core/errors.ts'
import type { Conversation } from '../../src/shared/chat.ts'

/** The chat files of the workspace: round trip, listing order, damaged files listed with a reason, atomic writes. */

let folder = ''

function conversation(id: string, updated: string, turns = 1): Conversation {
  return {
    id,
    title: `Conversation ${id}`,
    created: '2026-01-01T00:00:00.000Z',
    updated,
    systemPrompt: 'Answer briefly.',
    turns: Array.from({ length: turns }, (_, index) => ({
      user: `Question ${index}?`,
      base: {
        text: `Base answer ${index}.`,
        finishReason: 'eos' as const,
        generatedTokens: 4,
        tokensPerSecond: 120.5,
        timeToFirstTokenMs: 12.25,
      },
      steered: null,
      steeredWith: [],
      seed: 7,
    })),
    edits: [{ id: 'edit-1', label: 'mean-diff · truthfulness', strength: 1.5, enabled: true }],
    sampling: {
      maxTokens: 48,
      temperature: 0,
      topK: 0,
      topP: 1,
      repetitionPenalty: 1,
      seed: 7,
      stopStrings: ['\n\n'],
    },
  }
}

async function refusal(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise
  } catch (error) {
    return error as Error
  }
  throw new Error('expected a refusal')
}

beforeEach(() => {
  folder = join(mkdtempSync(join(tmpdir(), 'tiller-chats-')), 'chats')
})

describe('chat files', () => {
  test('a saved conversation loads back equal, as versioned plain JSON', async () => {
    const saved = conversation('first', '2026-01-02T00:00:00.000Z', 2)
    const entry = await saveConversation(folder, saved)
    expect(entry).toEqual({
      id: 'first',
      path: join(folder, 'first.json'),
      title: 'Conversation first',
      updated: '2026-01-02T00:00:00.000Z',
      turns: 2,
      problem: null,
    })
    expect(await loadConversation(folder, 'first')).toEqual(saved)
    const file = JSON.parse(readFileSync(join(folder, 'first.json'), 'utf8')) as Record<string, unknown>
    expect(file['format']).toBe('tiller-chat')
    expect(file['version']).toBe(chatFileVersion)
    // Nothing but the file itself is left in the folder (no temporaries).
    expect(readdirSync(folder)).toEqual(['first.json'])
  })

  test('the list is newest first; a missing folder is an empty list', async () => {
    expect(await listConversations(join(folder, 'absent'))).toEqual([])
    await saveConversation(folder, conversation('older', '2026-01-02T00:00:00.000Z'))
    await saveConversation(folder, conversation('newer', '2026-03-02T00:00:00.000Z'))
    await saveConversation(folder, conversation('middle', '2026-02-02T00:00:00.000Z'))
    expect((await listConversations(folder)).map((entry) => entry.id)).toEqual(['newer', 'middle', 'older'])
  })

  test('damaged files are listed with their reason and never stop the list', async () => {
    await saveConversation(folder, conversation('good', '2026-01-02T00:00:00.000Z'))
    writeFileSync(join(folder, 'broken.json'), '{"format": "tiller-chat", "version": 1, "conv')
    writeFileSync(
      join(folder, 'future.json'),
      JSON.stringify({ format: 'tiller-chat', version: chatFileVersion + 1, conversation: {} }),
    )
    const wrongField = JSON.parse(formatChatFile(conversation('field', '2026-01-02T00:00:00.000Z'))) as {
      conversation: { turns: { user: unknown }[] }
    }
    const firstTurn = wrongField.conversation.turns[0]
    if (firstTurn === undefined) throw new Error('the sample has a turn')
    firstTurn.user = 42
    writeFileSync(join(folder, 'field.json'), JSON.stringify(wrongField))
    writeFileSync(
      join(folder, 'renamed.json'),
      formatChatFile(conversation('other', '2026-01-02T00:00:00.000Z')),
    )
    writeFileSync(join(folder, 'notes.txt'), 'not a conversation')
    writeFileSync(join(folder, '.good.json.abc123.partial'), 'half')

    const entries = await listConversations(folder)
    const problems = Object.fromEntries(entries.map((entry) => [entry.id, entry.problem]))
    expect(Object.keys(problems).sort()).toEqual(['broken', 'field', 'future', 'good', 'renamed'])
    expect(problems['good']).toBeNull()
    expect(problems['broken']).toMatch(/broken\.json cannot be opened: it is not valid JSON/)
    expect(problems['future']).toMatch(/written by a newer Tiller \(format version 2; this one reads 1\)/)
    expect(problems['field']).toMatch(/conversation\.turns\.0\.user: /)
    expect(problems['renamed']).toMatch(/holds conversation "other", not "renamed"/)

    const error = await refusal(loadConversation(folder, 'broken'))
    expect(isTillerError(error, 'file-corrupt')).toBe(true)
    expect(error.message).toBe(problems['broken'])
  })

  test('ids that are not plain file names are refused; unknown ids say so', async () => {
    for (const id of ['../escape', 'a/b', '', '.hidden']) {
      const error = await refusal(loadConversation(folder, id))
      expect(isTillerError(error, 'invalid-argument'), id).toBe(true)
    }
    const missing = await refusal(loadConversation(folder, 'nothing-here'))
    expect(isTillerError(missing, 'file-not-found')).toBe(true)
    expect(missing.message).toContain('There is no saved conversation "nothing-here"')
  })

  test('a failed save names the file and leaves the saved one whole', async () => {
    const first = conversation('kept', '2026-01-02T00:00:00.000Z')
    await saveConversation(folder, first)
    // A folder where the file should go makes the final rename fail after the temporary was written.
    mkdirSync(join(folder, 'blocked.json'))
    const error = await refusal(saveConversation(folder, conversation('blocked', '2026-01-05T00:00:00.000Z')))
    expect(isTillerError(error)).toBe(true)
    expect(error.message).toContain(join(folder, 'blocked.json'))
    expect(readdirSync(folder).sort()).toEqual(['blocked.json', 'kept.json'])
    expect(await loadConversation(folder, 'kept')).toEqual(first)
  })

  test('delete removes the file and reports whether there was one', async () => {
    await saveConversation(folder, conversation('gone', '2026-01-02T00:00:00.000Z'))
    expect(await deleteConversation(folder, 'gone')).toBe(true)
    expect(await deleteConversation(folder, 'gone')).toBe(false)
    expect(await listConversations(folder)).toEqual([])
  })
})
