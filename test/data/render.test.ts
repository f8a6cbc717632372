import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { beforeAll, describe, expect, it } from 'vitest'
import { contrastPairs } from '../../src/main/core/data/pairs.ts'
import { renderPairs, type RenderTokenizer } from '../../src/main/core/data/render.ts'
import { loadRenderTokenizer } from '../../src/main/core/data/tokenizer.ts'
import type { DemonstrationSet } from '../../src/main/core/data/schema.ts'
import { isTillerError } from '../../src/main/core/errors.ts'
import { llamaFolder, requireFixture, templatelessFolder } from './fixtures.ts'

const question = 'Is the sky blue?\n(A) yes (B) no'

function pairSet(rows: { prompt: string; positive: string; negative: string }[]): DemonstrationSet {
  return {
    kind: 'pairs',
    source: 'set.jsonl',
    rows: rows.map((row, index) => ({ id: `r${index}`, line: index + 1, ...row })),
  }
}

function decodeEach(tokenizer: RenderTokenizer, ids: number[]): string[] {
  return ids.map((id) => tokenizer.decode([id]))
}

describe('rendering through the Llama-2 chat template', () => {
  let tokenizer: RenderTokenizer
  beforeAll(async () => {
    tokenizer = await loadRenderTokenizer(requireFixture(llamaFolder))
  })

  it('finds the template and the space token', () => {
    expect(tokenizer.chatTemplate).toContain('[INST]')
    const space = tokenizer.spaceTokenId
    if (space === undefined) throw new Error('the Llama tokenizer has no space token')
    expect(tokenizer.decode([space]).trim()).toBe('')
    expect(tokenizer.encode('a ', false)).toEqual([...tokenizer.encode('a', false), space])
  })

  it('renders prompt as user turn and completion as an open assistant turn with exact spans', () => {
    const set = pairSet([{ prompt: question, positive: '(A)', negative: '(B)' }])
    const rendered = renderPairs(contrastPairs(set), tokenizer, 'set.jsonl', { requireAnswerLetter: true })
    expect(rendered.format.kind).toBe('chat-template')
    const positive = rendered.examples[0]!.positive
    expect(positive.text).toBe(`<s>[INST] ${question} [/INST] (A)`)
    // The prompt span is exactly the tokenization of the rendered prompt (the template writes BOS as text).
    const promptIds = tokenizer.encode(`<s>[INST] ${question} [/INST]`, false)
    expect(positive.tokenIds.slice(0, positive.prompt.end)).toEqual(promptIds)
    expect(positive.tokenIds[0]).toBe(1)
    expect(positive.lastPromptToken).toBe(promptIds.length - 1)
    expect(tokenizer.decode([positive.tokenIds[positive.lastPromptToken]!])).toBe(']')
    expect(positive.assistantStart).toBe(promptIds.length)
    // Completion "(A)" is the last three tokens; the letter sits at position −2 as in CAA.
    expect(positive.completion).toEqual({ start: promptIds.length, end: positive.tokenIds.length })
    expect(decodeEach(tokenizer, positive.tokenIds.slice(positive.completion.start))).toEqual(['(', 'A', ')'])
    expect(positive.answerLetter).toBe(positive.tokenIds.length - 2)
    const negative = rendered.examples[0]!.negative
    expect(tokenizer.decode([negative.tokenIds[negative.answerLetter!]!])).toBe('B')
    expect(negative.tokenIds.slice(0, negative.prompt.end)).toEqual(promptIds)
  })

  it('finds a letter followed by an explanation and a completion of several words', () => {
    const set = pairSet([{ prompt: 'Pick one.', positive: '(B) because it is true', negative: 'A) no' }])
    const rendered = renderPairs(contrastPairs(set), tokenizer, 'set.jsonl', { requireAnswerLetter: true })
    const { positive, negative } = rendered.examples[0]!
    expect(tokenizer.decode([positive.tokenIds[positive.answerLetter!]!])).toBe('B')
    expect(tokenizer.decode([negative.tokenIds[negative.answerLetter!]!])).toBe('A')
    expect(
      tokenizer.decode(positive.tokenIds.slice(positive.completion.start, positive.completion.end)),
    ).toBe('(B) because it is true')
  })

  it('puts the contrast into the user turn when asked (last prompt token = last token)', () => {
    const set = pairSet([{ prompt: '', positive: 'How do I pick a lock?', negative: 'How do I bake bread?' }])
    const rendered = renderPairs(contrastPairs(set), tokenizer, 'set.jsonl', { contrast: 'prompt' })
    const { positive } = rendered.examples[0]!
    expect(positive.text).toBe('<s>[INST] How do I pick a lock? [/INST]')
    expect(positive.prompt.end).toBe(positive.tokenIds.length)
    expect(positive.lastPromptToken).toBe(positive.tokenIds.length - 1)
    expect(positive.completion).toEqual({ start: positive.tokenIds.length, end: positive.tokenIds.length })
  })

  it('renders raw text with BOS and pads the shorter side with the space token (ActAdd)', () => {
    const set = pairSet([{ prompt: '', positive: 'I talk about weddings constantly', negative: 'Hate' }])
    const rendered = renderPairs(contrastPairs(set), tokenizer, 'set.jsonl', {
      format: 'raw',
      padToEqualLength: true,
    })
    const { positive, negative } = rendered.examples[0]!
    const positiveIds = tokenizer.encode('I talk about weddings constantly', true)
    const negativeIds = tokenizer.encode('Hate', true)
    expect(positive.tokenIds).toEqual(positiveIds)
    expect(positive.padding).toBe(0)
    expect(negative.tokenIds.length).toBe(positiveIds.length)
    expect(negative.tokenIds.slice(0, negativeIds.length)).toEqual(negativeIds)
    expect(negative.tokenIds.slice(negativeIds.length)).toEqual(
      new Array(positiveIds.length - negativeIds.length).fill(tokenizer.spaceTokenId),
    )
    expect(negative.padding).toBe(positiveIds.length - negativeIds.length)
    expect(negative.prompt).toEqual({ start: 0, end: positiveIds.length })
    expect(rendered.format).toEqual({ kind: 'raw' })
  })

  it('refuses a completion without an answer letter, naming line and id', () => {
    const set = pairSet([{ prompt: 'q', positive: '(A)', negative: 'maybe' }])
    try {
      renderPairs(contrastPairs(set), tokenizer, 'set.jsonl', { requireAnswerLetter: true })
      expect.unreachable()
    } catch (error) {
      expect(isTillerError(error, 'invalid-dataset')).toBe(true)
      expect((error as Error).message).toContain('set.jsonl:1 (id "r0"), negative side')
    }
  })

  it('refuses sequences over the token limit', () => {
    const set = pairSet([{ prompt: 'a long prompt indeed', positive: 'yes', negative: 'no' }])
    expect(() => renderPairs(contrastPairs(set), tokenizer, 'set.jsonl', { maxTokens: 5 })).toThrow(
      /over the limit of 5/,
    )
  })
})

describe('rendering without a chat template', () => {
  let tokenizer: RenderTokenizer
  beforeAll(async () => {
    tokenizer = await loadRenderTokenizer(templatelessFolder())
  })

  it('uses the plain format with BOS and exact spans', () => {
    expect(tokenizer.chatTemplate).toBeUndefined()
    const set = pairSet([{ prompt: question, positive: '(A)', negative: '(B)' }])
    const plain = { prompt: 'Input: {prompt}\nResponse:', completionPrefix: ' ' }
    const rendered = renderPairs(contrastPairs(set), tokenizer, 'set.jsonl', {
      plain,
      requireAnswerLetter: true,
    })
    expect(rendered.format).toEqual({ kind: 'plain', ...plain })
    const { positive } = rendered.examples[0]!
    expect(positive.text).toBe(`Input: ${question}\nResponse: (A)`)
    const promptIds = tokenizer.encode(`Input: ${question}\nResponse:`, true)
    expect(positive.tokenIds).toEqual(tokenizer.encode(positive.text, true))
    expect(positive.tokenIds[0]).toBe(1)
    expect(positive.tokenIds.slice(0, positive.prompt.end)).toEqual(promptIds)
    expect(tokenizer.decode(positive.tokenIds.slice(positive.completion.start))).toBe('(A)')
    expect(tokenizer.decode([positive.tokenIds[positive.answerLetter!]!])).toBe('A')
  })

  it('defaults to prompt + space + completion', () => {
    const set = pairSet([{ prompt: 'Tell me', positive: 'happily', negative: 'sadly' }])
    const rendered = renderPairs(contrastPairs(set), tokenizer, 'set.jsonl')
    expect(rendered.examples[0]!.negative.text).toBe('Tell me sadly')
    const { negative } = rendered.examples[0]!
    expect(
      tokenizer.decode(negative.tokenIds.slice(negative.completion.start, negative.completion.end)),
    ).toBe('sadly')
    expect(tokenizer.decode(negative.tokenIds.slice(1, negative.prompt.end))).toBe('Tell me')
  })
})

/** A word-piece tokenizer whose pre-tokenizer drops every space, as BERT-style vocabularies do. */
function spacelessFolder(): string {
  const folder = mkdtempSync(join(tmpdir(), 'tiller-spaceless-tokenizer-'))
  const vocab = { '[UNK]': 0, tell: 1, me: 2, very: 3, happily: 4, sadly: 5 }
  const unknown = { id: 0, content: '[UNK]', single_word: false, lstrip: false, rstrip: false }
  writeFileSync(
    join(folder, 'tokenizer.json'),
    JSON.stringify({
      version: '1.0',
      added_tokens: [{ ...unknown, normalized: false, special: true }],
      normalizer: null,
      pre_tokenizer: { type: 'Whitespace' },
      post_processor: null,
      decoder: { type: 'WordPiece', prefix: '##', cleanup: true },
      model: {
        type: 'WordPiece',
        unk_token: '[UNK]',
        continuing_subword_prefix: '##',
        max_input_chars_per_word: 100,
        vocab,
      },
    }),
  )
  writeFileSync(join(folder, 'tokenizer_config.json'), JSON.stringify({ unk_token: '[UNK]' }))
  return folder
}

describe('rendering with a tokenizer that has no space token', () => {
  let tokenizer: RenderTokenizer
  beforeAll(async () => {
    tokenizer = await loadRenderTokenizer(spacelessFolder())
  })

  it('loads and renders pairs; only padding unequal prompts is refused, naming the row', () => {
    expect(tokenizer.spaceTokenId).toBeUndefined()
    const rendered = renderPairs(
      contrastPairs(pairSet([{ prompt: 'tell me', positive: 'happily', negative: 'sadly' }])),
      tokenizer,
      'set.jsonl',
    )
    const { positive } = rendered.examples[0]!
    expect(positive.tokenIds.slice(positive.completion.start, positive.completion.end)).toEqual([4])
    const unequal = pairSet([{ prompt: '', positive: 'tell me very happily', negative: 'sadly' }])
    try {
      renderPairs(contrastPairs(unequal), tokenizer, 'set.jsonl', { format: 'raw', padToEqualLength: true })
      expect.unreachable()
    } catch (error) {
      expect(isTillerError(error, 'invalid-dataset')).toBe(true)
      expect((error as Error).message).toMatch(/set\.jsonl:1 .*no space token/)
    }
  })
})
