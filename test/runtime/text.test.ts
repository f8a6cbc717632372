import type { TextTokenizer } from '../../src/main/core/runtime/text-tokenizer.ts'
import { beforeAll, describe, expect, it } from 'vitest'
import { isTillerError } from '../../src/main/core/errors.ts'
import { defaultPlainChatFormat, renderPrompt } from '../../src/main/core/runtime/prompt.ts'
import { TextStream } from '../../src/main/core/runtime/text-stream.ts'
import { loadTokenizer } from '../../src/main/core/runtime/tokenizer.ts'
import { genaiFixture, requireFixture } from './fixtures.ts'

let tokenizer: TextTokenizer

beforeAll(async () => {
  tokenizer = await loadTokenizer(requireFixture(genaiFixture))
})

/** Push the ids of `continuation` (tokenized after `prompt`) one by one; returns pieces and the stop flag. */
function stream(prompt: string, continuation: string, stops: string[]) {
  const promptIds = tokenizer.encode(prompt)
  const all = tokenizer.encode(prompt + continuation)
  expect(all.slice(0, promptIds.length)).toEqual(promptIds)
  const text = new TextStream(tokenizer, promptIds, stops)
  const pieces: string[] = []
  let stopped = false
  for (const token of all.slice(promptIds.length)) {
    const piece = text.push(token)
    pieces.push(piece.text)
    if (piece.stopped) {
      stopped = true
      break
    }
  }
  if (!stopped) pieces.push(text.finish())
  return { pieces, stopped, text: text.text }
}

describe('TextStream', () => {
  it('keeps leading spaces and only emits whole characters', () => {
    const result = stream('Tom said', ' 你好 to his friend', [])
    expect(result.text).toBe(' 你好 to his friend')
    expect(result.pieces.join('')).toBe(result.text)
    expect(result.pieces.some((piece) => piece.includes('\uFFFD'))).toBe(false)
    // Byte-fallback characters take several tokens, so some pushes produce nothing.
    expect(result.pieces.filter((piece) => piece === '').length).toBeGreaterThan(0)
  })

  it('cuts at a stop string and never emits text after it', () => {
    const result = stream('Once', ' upon a time there was a fox in the woods', ['a fox'])
    expect(result.stopped).toBe(true)
    expect(result.text).toBe(' upon a time there was ')
    expect(result.pieces.join('')).toBe(result.text)
  })

  it('holds back a possible stop string and releases it when it does not complete', () => {
    const result = stream('Once', ' upon a time there was a fox', ['a foxes'])
    expect(result.stopped).toBe(false)
    expect(result.text).toBe(' upon a time there was a fox')
    expect(result.pieces.join('')).toBe(result.text)
    // "a fox" could still become "a foxes" until the end, so it is released only by finish().
    expect(result.pieces[result.pieces.length - 1]).toContain('fox')
  })
})

describe('renderPrompt', () => {
  const limits = { maxTokens: 8, contextLength: 2048 }

  it('adds BOS to a plain prompt as the Llama tokenizer does', () => {
    const rendered = renderPrompt(tokenizer, 'Hello world', limits)
    expect(rendered.ids).toEqual(tokenizer.encode('Hello world'))
    expect(rendered.ids[0]).toBe(tokenizer.bos_token_id)
    expect(rendered.usedChatTemplate).toBe(false)
  })

  it('applies the chat template once, BOS included exactly once', () => {
    const rendered = renderPrompt(tokenizer, 'Hi there', { ...limits, chat: true })
    expect(rendered.usedChatTemplate).toBe(true)
    expect(rendered.text).toBe('<s>[INST] Hi there [/INST]')
    expect(rendered.ids.filter((id) => id === tokenizer.bos_token_id)).toHaveLength(1)
    expect(rendered.ids).toEqual(tokenizer.encode('[INST] Hi there [/INST]'))
  })

  it('falls back to a plain chat format when the tokenizer has no template', () => {
    const saved: unknown = tokenizer.chat_template
    tokenizer.chat_template = null
    try {
      const rendered = renderPrompt(tokenizer, 'Hi', { ...limits, chat: true })
      expect(rendered.text).toBe(defaultPlainChatFormat.replace('{prompt}', 'Hi'))
      const custom = renderPrompt(tokenizer, 'Hi', {
        ...limits,
        chat: true,
        plainChatFormat: 'Q: {prompt}\nA:',
      })
      expect(custom.ids).toEqual(tokenizer.encode('Q: Hi\nA:'))
    } finally {
      tokenizer.chat_template = saved
    }
  })

  it('rejects empty prompts and prompts that do not fit the context', () => {
    for (const prompt of ['', '   \n']) {
      let error: unknown
      try {
        renderPrompt(tokenizer, prompt, limits)
      } catch (caught) {
        error = caught
      }
      expect(isTillerError(error, 'empty-prompt')).toBe(true)
      expect((error as Error).message).toContain('--prompt')
    }
    let error: unknown
    try {
      renderPrompt(tokenizer, 'word '.repeat(30), { maxTokens: 10, contextLength: 32 })
    } catch (caught) {
      error = caught
    }
    expect(isTillerError(error, 'prompt-too-long')).toBe(true)
    expect((error as Error).message).toMatch(/32/)
    expect((error as Error).message).toContain('max_position_embeddings')
  })

  it('says when the prompt alone fills the context, instead of advising --max-tokens 0', () => {
    const prompt = 'word '.repeat(40)
    const length = tokenizer.encode(prompt).length
    const message = (contextLength: number) => {
      try {
        renderPrompt(tokenizer, prompt, { maxTokens: 4, contextLength })
      } catch (error) {
        expect(isTillerError(error, 'prompt-too-long')).toBe(true)
        return (error as Error).message
      }
      throw new Error(`a ${length}-token prompt fitted a context of ${contextLength}`)
    }
    for (const contextLength of [length - 5, length]) {
      expect(message(contextLength)).toBe(
        `The prompt is ${length} tokens, which fills the model's whole context (max_position_embeddings ` +
          `${contextLength}) and leaves no room for a new token; shorten it to at most ${contextLength - 1} tokens.`,
      )
    }
    // One token of room: lowering --max-tokens is the advice, with the number that fits.
    expect(message(length + 1)).toContain('lower --max-tokens to at most 1.')
  })
})
