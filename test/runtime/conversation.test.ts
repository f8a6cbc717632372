import { join } from 'node:path'
import type { TextTokenizer } from '../../src/main/core/runtime/text-tokenizer.ts'
import { beforeAll, describe, expect, test } from 'vitest'
import { isTillerError } from '../../src/main/core/errors.ts'
import { renderConversation } from '../../src/main/core/runtime/conversation.ts'
import { renderPrompt } from '../../src/main/core/runtime/prompt.ts'
import { loadTokenizer } from '../../src/main/core/runtime/tokenizer.ts'

/**
 * Multi-turn chat through the organism's chat template (`<|begin|><|user|>…<|end|><|assistant|>…<|end|>`): the whole
 * conversation, the oldest exchanges left out when it does not fit, and the same text as a single turn for one
 * message.
 */

const organismFolder = join(import.meta.dirname, '../../resources/models/organism')
let tokenizer: TextTokenizer

beforeAll(async () => {
  tokenizer = await loadTokenizer(organismFolder)
})

const history = [
  { user: 'Where does the fox live?', assistant: 'The fox lives in the field. It eats roots.' },
  { user: 'What does the owl eat?', assistant: 'The owl eats insects.' },
]

describe('conversation rendering', () => {
  test('every exchange and the new message in the template, ending with the assistant cue', () => {
    const rendered = renderConversation(
      tokenizer,
      { systemPrompt: '', history, message: 'Tell me the colour of the fox.' },
      { maxTokens: 32, contextLength: 256 },
    )
    expect(rendered.usedChatTemplate).toBe(true)
    expect(rendered.droppedTurns).toBe(0)
    expect(rendered.text).toBe(
      '<|begin|>' +
        '<|user|>Where does the fox live?<|end|><|assistant|>The fox lives in the field. It eats roots.<|end|>' +
        '<|user|>What does the owl eat?<|end|><|assistant|>The owl eats insects.<|end|>' +
        '<|user|>Tell me the colour of the fox.<|end|><|assistant|>',
    )
    expect(rendered.ids).toEqual(tokenizer.encode(rendered.text, { add_special_tokens: false }))
  })

  test('one message renders exactly as a single chat prompt', () => {
    const message = 'Where does the fox live?'
    const rendered = renderConversation(
      tokenizer,
      { systemPrompt: '', history: [], message },
      { maxTokens: 32, contextLength: 256 },
    )
    const single = renderPrompt(tokenizer, message, { chat: true, maxTokens: 32, contextLength: 256 })
    expect(rendered.text).toBe(single.text)
    expect(rendered.ids).toEqual(single.ids)
  })

  test('a system prompt comes first as the template writes it', () => {
    const rendered = renderConversation(
      tokenizer,
      { systemPrompt: 'Be honest.', history: [], message: 'Where does the fox live?' },
      { maxTokens: 8, contextLength: 256 },
    )
    expect(rendered.text).toBe(
      '<|begin|><|system|>Be honest.<|end|><|user|>Where does the fox live?<|end|><|assistant|>',
    )
  })

  test('the oldest exchanges are left out until the conversation fits', () => {
    const input = { systemPrompt: '', history, message: 'Tell me the colour of the fox.' }
    const full = renderConversation(tokenizer, input, { maxTokens: 1, contextLength: 1000 })
    const withoutFirst = renderConversation(
      tokenizer,
      { ...input, history: history.slice(1) },
      { maxTokens: 1, contextLength: 1000 },
    )
    // Room for the prompt without the first exchange but not with it.
    const maxTokens = 10
    const contextLength = withoutFirst.ids.length + maxTokens
    expect(full.ids.length).toBeGreaterThan(withoutFirst.ids.length)
    const rendered = renderConversation(tokenizer, input, { maxTokens, contextLength })
    expect(rendered.droppedTurns).toBe(1)
    expect(rendered.ids).toEqual(withoutFirst.ids)
    expect(rendered.text.startsWith('<|begin|><|user|>What does the owl eat?')).toBe(true)
  })

  test('a blank message and a message that cannot fit are refused in the studio’s words', () => {
    const blank = (() => {
      try {
        renderConversation(
          tokenizer,
          { systemPrompt: '', history, message: '  ' },
          { maxTokens: 8, contextLength: 256 },
        )
      } catch (error) {
        return error
      }
      return null
    })()
    expect(isTillerError(blank, 'empty-prompt')).toBe(true)
    const long = (() => {
      try {
        renderConversation(
          tokenizer,
          { systemPrompt: '', history, message: 'Where does the fox live? '.repeat(20) },
          { maxTokens: 200, contextLength: 256 },
        )
      } catch (error) {
        return error as Error
      }
      return null
    })()
    expect(isTillerError(long, 'prompt-too-long')).toBe(true)
    expect(long?.message).toMatch(/model's context is 256 tokens; shorten the message, or lower Max tokens/)
  })
})
