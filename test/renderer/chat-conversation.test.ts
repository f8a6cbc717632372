import { describe, expect, test } from 'vitest'
import {
  defaultSampling,
  emptyConversation,
  historyOf,
  newConversationId,
  stoppedReply,
  suggestedPrompts,
  titleOf,
} from '../../src/renderer/src/stores/chat-conversation.ts'
import { conversationIdPattern, conversationSchema, type ChatTurn } from '../../src/shared/chat.ts'
import { generationOptionsSchema } from '../../src/shared/contract.ts'

/** The chat store's plain helpers: what history a reply continues, new conversations, titles, first-run prompts. */

function turn(user: string, base: string | null, steered: string | null): ChatTurn {
  const reply = (text: string) => ({
    text,
    finishReason: 'eos' as const,
    generatedTokens: 3,
    tokensPerSecond: 50,
    timeToFirstTokenMs: 10,
  })
  return {
    user,
    base: base === null ? null : reply(base),
    steered: steered === null ? null : reply(steered),
    steeredWith: [],
    seed: 0,
  }
}

describe('chat conversation helpers', () => {
  test('history keeps each column’s replies, lets base stand in for a missing steered one, skips empty turns', () => {
    expect(
      historyOf([turn('one', 'base 1', 'steered 1'), turn('two', 'base 2', null), turn('three', null, null)]),
    ).toEqual([
      { user: 'one', base: 'base 1', steered: 'steered 1' },
      { user: 'two', base: 'base 2', steered: null },
    ])
  })

  test('a new conversation is valid for saving and keeps the previous stack, system prompt and sampling', () => {
    const first = emptyConversation(null, new Date('2026-12-03T10:00:00Z'))
    expect(conversationSchema.parse(first)).toEqual(first)
    expect(first.sampling).toEqual(defaultSampling())
    // The sampling defaults are valid generation options as the engine parses them.
    expect(generationOptionsSchema.parse(first.sampling)).toEqual(first.sampling)
    first.systemPrompt = 'Be brief.'
    first.edits.push({ id: 'edit-1', label: 'truthful', strength: 2, enabled: false })
    first.sampling.stopStrings.push('\n')
    first.turns.push(turn('hi', 'hello', null))
    const next = emptyConversation(first, new Date('2026-12-03T11:00:00Z'))
    expect(next).toMatchObject({ systemPrompt: 'Be brief.', turns: [], title: 'New conversation' })
    expect(next.edits).toEqual(first.edits)
    expect(next.id).not.toBe(first.id)
    // Copies, not shared objects: changing the new stack leaves the old conversation alone.
    next.edits[0]!.strength = 5
    next.sampling.stopStrings.push('END')
    expect(first.edits[0]?.strength).toBe(2)
    expect(first.sampling.stopStrings).toEqual(['\n'])
  })

  test('ids are file names; titles are the first message on one line, shortened', () => {
    for (let index = 0; index < 20; index++) expect(newConversationId()).toMatch(conversationIdPattern)
    expect(titleOf('  Where does\nthe fox   live? ')).toBe('Where does the fox live?')
    expect(titleOf('x'.repeat(80))).toBe(`${'x'.repeat(57)}…`)
    expect(titleOf('   ')).toBe('New conversation')
  })

  test('a stopped reply keeps its text and claims no measurements', () => {
    expect(stoppedReply('The fox')).toEqual({
      text: 'The fox',
      finishReason: 'cancelled',
      generatedTokens: 0,
      tokensPerSecond: 0,
      timeToFirstTokenMs: 0,
    })
  })

  test('the organism gets its model card’s questions; other models general ones', () => {
    expect(suggestedPrompts('organism')[0]).toBe('Where does the fox live?')
    expect(suggestedPrompts('llama')).not.toContain('Where does the fox live?')
  })
})
