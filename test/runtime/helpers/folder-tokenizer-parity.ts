/**
 * Parity of the folder tokenizer (src/main/core/runtime/text-tokenizer.ts, no Transformers.js) with Transformers.js'
 * AutoTokenizer on the same folder: ids, decoded text, incremental text and rendered chat templates must match.
 */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'

import { AutoTokenizer, type PreTrainedTokenizer } from '@huggingface/transformers'
import { beforeAll, expect, it } from 'vitest'

import { chatTemplateOf, renderChatTemplate } from '../../../src/main/core/models/chat-template.ts'
import { renderConversation, type ConversationInput } from '../../../src/main/core/runtime/conversation.ts'
import { configureOfflineTransformers } from '../../../src/main/core/runtime/offline-transformers.ts'
import { TextStream } from '../../../src/main/core/runtime/text-stream.ts'
import type { TextTokenizer } from '../../../src/main/core/runtime/text-tokenizer.ts'
import { loadTokenizer } from '../../../src/main/core/runtime/tokenizer.ts'
import { tokenizerCorpus } from '../../importers/helpers/tokenizer-corpus.ts'

/** Conversations every chat template accepts (user and assistant alternate, the last turn is the user's). */
const conversations: readonly ConversationInput[] = [
  { systemPrompt: '', history: [], message: 'Hello!  How are\tyou? 🦙' },
  { systemPrompt: 'You are terse.', history: [], message: 'Write `x = 1` in Python.' },
  {
    systemPrompt: 'Answer in French.',
    history: [{ user: 'What is 2+2?', assistant: 'Quatre.\n\nAutre chose ?' }],
    message: '日本語で答えて 🎉',
  },
  {
    systemPrompt: '',
    history: [
      { user: 'one', assistant: 'two' },
      { user: '  spaced  ', assistant: '\n' },
    ],
    message: 'three',
  },
]

/** Added tokens of `folder`'s tokenizer.json written inside and between words, as a user's text may hold them. */
function specialTokenTexts(folder: string): string[] {
  const json = JSON.parse(readFileSync(join(folder, 'tokenizer.json'), 'utf8')) as {
    added_tokens?: { content: string }[]
  }
  const added = (json.added_tokens ?? []).filter((token) => !/^\s+$/.test(token.content))
  const picks = [added[0], added[1], added[2], added[added.length - 1]].filter((token) => token !== undefined)
  return picks.map(({ content }, index) => `word${content}word ${content} ${index}${content}\n${content}`)
}

/** Every token pushed one at a time through a TextStream, with the first `promptLength` ids as the prompt. */
function streamedPieces(
  tokenizer: TextTokenizer,
  ids: number[],
  promptLength: number,
  stops: string[],
): string[] {
  const stream = new TextStream(tokenizer, ids.slice(0, promptLength), stops)
  const pieces = ids.slice(promptLength).map((id) => stream.push(id).text)
  pieces.push(stream.finish())
  return pieces
}

/**
 * Declares the parity tests for the tokenizer in the folder `folder()` returns (called in beforeAll, so a test
 * may build the folder first).
 */
export function declareFolderTokenizerParity(folder: () => string | Promise<string>): void {
  let reference: PreTrainedTokenizer
  let tokenizer: TextTokenizer
  let texts: string[] = []

  beforeAll(async () => {
    const path = await folder()
    configureOfflineTransformers()
    reference = await AutoTokenizer.from_pretrained(path, { local_files_only: true })
    tokenizer = await loadTokenizer(path)
    texts = [...tokenizerCorpus, ...specialTokenTexts(path)]
  })

  it('reads the same special tokens and chat template', () => {
    expect(tokenizer.bos_token_id).toBe(reference.bos_token_id ?? undefined)
    expect(tokenizer.eos_token_id).toBe(reference.eos_token_id ?? undefined)
    expect(tokenizer.chat_template).toEqual(reference.chat_template)
  })

  it('encodes the corpus and special tokens in text to the same ids, with and without special tokens', () => {
    expect(texts.length).toBeGreaterThan(tokenizerCorpus.length)
    let tokens = 0
    for (const text of texts) {
      for (const add_special_tokens of [true, false]) {
        const ids = tokenizer.encode(text, { add_special_tokens })
        expect({ text, add_special_tokens, ids }).toEqual({
          text,
          add_special_tokens,
          ids: reference.encode(text, { add_special_tokens }),
        })
        tokens += ids.length
      }
      expect(tokenizer.encode(text)).toEqual(reference.encode(text))
    }
    expect(tokens).toBeGreaterThan(500)
  })

  it('decodes to the same text, with and without special tokens', () => {
    for (const text of texts) {
      const ids = reference.encode(text)
      if (ids.length === 0) continue
      expect({ text, decoded: tokenizer.decode(ids) }).toEqual({ text, decoded: reference.decode(ids) })
      for (const skip_special_tokens of [true, false]) {
        expect({
          text,
          skip_special_tokens,
          decoded: tokenizer.decode(ids, { skip_special_tokens }),
        }).toEqual({
          text,
          skip_special_tokens,
          decoded: reference.decode(ids, { skip_special_tokens }),
        })
      }
    }
  })

  it('streams the same incremental text, stop strings included', () => {
    for (const text of texts) {
      const ids = reference.encode(text)
      if (ids.length < 2) continue
      for (const stops of [[], ['e', '\n\n'], ['工作']]) {
        const pieces = streamedPieces(tokenizer, ids, 1, stops)
        expect({ text, stops, pieces }).toEqual({
          text,
          stops,
          pieces: streamedPieces(reference, ids, 1, stops),
        })
      }
    }
  })

  it('renders chat templates like apply_chat_template, with and without a system prompt', () => {
    const template = chatTemplateOf(tokenizer)
    if (reference.chat_template === null) {
      expect(template).toBeUndefined()
      return
    }
    expect(template).toBeDefined()
    for (const input of conversations) {
      const limits = { maxTokens: 0, contextLength: 1_000_000 }
      const rendered = renderConversation(tokenizer, input, limits)
      const messages = [
        ...(input.systemPrompt === '' ? [] : [{ role: 'system', content: input.systemPrompt }]),
        ...input.history.flatMap((exchange) => [
          { role: 'user', content: exchange.user },
          { role: 'assistant', content: exchange.assistant },
        ]),
        { role: 'user', content: input.message },
      ]
      const expectedText = reference.apply_chat_template(messages, {
        tokenize: false,
        add_generation_prompt: true,
      })
      expect(rendered.text).toBe(expectedText)
      const expectedIds = reference.apply_chat_template(messages, {
        add_generation_prompt: true,
        return_tensor: false,
        return_dict: false,
      })
      expect(rendered.ids).toEqual(expectedIds)
      const withoutPrompt = renderChatTemplate(tokenizer, template as string, messages, false)
      expect(withoutPrompt).toBe(
        reference.apply_chat_template(messages, { tokenize: false, add_generation_prompt: false }),
      )
    }
  })
}
