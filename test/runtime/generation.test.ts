import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { generate, type GenerationResult, type TokenEvent } from '../../src/main/core/runtime/generate.ts'
import { loadModel, type LoadedModel } from '../../src/main/core/runtime/model.ts'
import { genaiFixture, requireFixture } from './fixtures.ts'

// The genai builder fixture has random weights: the checks are about the loop, not about meaningful text.
let model: LoadedModel
let prompts: number[][]

beforeAll(async () => {
  model = await loadModel(requireFixture(genaiFixture), { provider: 'cpu' })
  prompts = ['Once upon a time', 'The quick brown fox jumps over the lazy dog', 'Hello'].map((text) =>
    model.tokenizer.encode(text),
  )
})

afterAll(async () => {
  await model.dispose()
})

function only(results: GenerationResult[]): GenerationResult {
  expect(results).toHaveLength(1)
  return results[0] as GenerationResult
}

describe('generate on the genai fp16 fixture', () => {
  it('greedy decoding is deterministic and stops at maxTokens', async () => {
    const first = only(await generate(model, { rows: [prompts[0] as number[]], options: { maxTokens: 12 } }))
    const second = only(await generate(model, { rows: [prompts[0] as number[]], options: { maxTokens: 12 } }))
    expect(first.generated).toHaveLength(12)
    expect(first.finishReason).toBe('length')
    expect(first.tokens).toEqual([...(prompts[0] as number[]), ...first.generated])
    expect(first.promptTokens).toBe((prompts[0] as number[]).length)
    expect(second.generated).toEqual(first.generated)
    expect(first.timing.tokensPerSecond).toBeGreaterThan(0)
  })

  it('a batch of left-padded rows equals one-row runs under greedy decoding', async () => {
    const batched = await generate(model, { rows: prompts, options: { maxTokens: 10 } })
    expect(new Set(prompts.map((row) => row.length)).size).toBe(prompts.length)
    for (const [row, prompt] of prompts.entries()) {
      const single = only(await generate(model, { rows: [prompt], options: { maxTokens: 10 } }))
      expect(batched[row]?.generated).toEqual(single.generated)
      expect(batched[row]?.text).toBe(single.text)
    }
  })

  it('sampling is reproducible under a seed, row by row, and the seed matters', async () => {
    const options = { maxTokens: 10, temperature: 1, topK: 50, topP: 0.9, repetitionPenalty: 1.3, seed: 42 }
    const batched = await generate(model, { rows: prompts, options })
    for (const [row, prompt] of prompts.entries()) {
      const single = only(await generate(model, { rows: [prompt], options }))
      expect(batched[row]?.generated).toEqual(single.generated)
    }
    const again = await generate(model, { rows: prompts, options })
    expect(again.map((result) => result.generated)).toEqual(batched.map((result) => result.generated))
    const reseeded = await generate(model, { rows: prompts, options: { ...options, seed: 43 } })
    expect(reseeded.map((result) => result.generated)).not.toEqual(batched.map((result) => result.generated))
    const greedy = await generate(model, { rows: prompts, options: { maxTokens: 10 } })
    expect(batched.map((result) => result.generated)).not.toEqual(greedy.map((result) => result.generated))
  })

  it('streams every token and the pieces add up to the decoded text', async () => {
    const events: TokenEvent[] = []
    const results = await generate(model, {
      rows: prompts,
      options: { maxTokens: 9 },
      onToken: (event) => events.push(event),
    })
    for (const [row, result] of results.entries()) {
      const rowEvents = events.filter((event) => event.row === row)
      expect(rowEvents.map((event) => event.token)).toEqual(result.generated)
      expect(rowEvents.map((event) => event.text).join('')).toBe(result.text)
      // The text is what decoding the whole sequence adds to the decoded prompt.
      const whole = model.tokenizer.decode(result.tokens, { skip_special_tokens: true })
      const prompt = model.tokenizer.decode(prompts[row] as number[], { skip_special_tokens: true })
      expect(whole.startsWith(prompt)).toBe(true)
      expect(result.text).toBe(whole.slice(prompt.length))
    }
    // Without a listener or stop strings the text is decoded once at the end: it must be the same.
    const quiet = await generate(model, { rows: prompts, options: { maxTokens: 9 } })
    expect(quiet.map((result) => result.text)).toEqual(results.map((result) => result.text))
  })

  it('cancellation stops within one step and returns what was generated', async () => {
    const controller = new AbortController()
    let rowOneTokens = 0
    const results = await generate(model, {
      rows: prompts.slice(0, 2),
      options: { maxTokens: 20 },
      signal: controller.signal,
      onToken: (event) => {
        if (event.row === 1 && ++rowOneTokens === 3) controller.abort()
      },
    })
    for (const result of results) {
      expect(result.finishReason).toBe('cancelled')
      expect(result.generated).toHaveLength(3)
    }
    const reference = await generate(model, { rows: prompts.slice(0, 2), options: { maxTokens: 3 } })
    expect(results.map((result) => result.generated)).toEqual(reference.map((result) => result.generated))

    const aborted = new AbortController()
    aborted.abort()
    const none = only(
      await generate(model, {
        rows: [prompts[0] as number[]],
        options: { maxTokens: 5 },
        signal: aborted.signal,
      }),
    )
    expect(none.finishReason).toBe('cancelled')
    expect(none.generated).toEqual([])
    expect(none.text).toBe('')
  })

  it('stops at a stop string, cutting the text before it', async () => {
    const plain = only(await generate(model, { rows: [prompts[1] as number[]], options: { maxTokens: 16 } }))
    // A stop string taken from the middle of the greedy text: the run must end where it first appears.
    const start = Math.floor(plain.text.length / 2)
    const stop = plain.text.slice(start, start + 3)
    const cut = plain.text.indexOf(stop)
    const stopped = only(
      await generate(model, {
        rows: [prompts[1] as number[]],
        options: { maxTokens: 16, stopStrings: [stop] },
      }),
    )
    expect(stopped.finishReason).toBe('stop')
    expect(stopped.text).toBe(plain.text.slice(0, cut))
    expect(plain.generated.slice(0, stopped.generated.length)).toEqual(stopped.generated)
    expect(stopped.generated.length).toBeLessThan(plain.generated.length)
  })

  it('stops at an end-of-sequence token, which ends the ids but not the text', async () => {
    const plain = only(await generate(model, { rows: [prompts[0] as number[]], options: { maxTokens: 12 } }))
    const eos = plain.generated[4] as number
    const first = plain.generated.indexOf(eos)
    const ended = only(
      await generate(model, {
        rows: [prompts[0] as number[]],
        options: { maxTokens: 12, eosTokenIds: [eos] },
      }),
    )
    expect(ended.finishReason).toBe('eos')
    expect(ended.generated).toEqual(plain.generated.slice(0, first + 1))
    const before = model.tokenizer.decode([...(prompts[0] as number[]), ...plain.generated.slice(0, first)], {
      skip_special_tokens: true,
    })
    const prompt = model.tokenizer.decode(prompts[0] as number[], { skip_special_tokens: true })
    expect(ended.text).toBe(before.slice(prompt.length))
  })

  it('rows that finish early do not disturb the others', async () => {
    const plain = await generate(model, { rows: prompts, options: { maxTokens: 8 } })
    const eos = plain[2]?.generated[1] as number
    const mixed = await generate(model, { rows: prompts, options: { maxTokens: 8, eosTokenIds: [eos] } })
    expect(mixed[2]?.finishReason).toBe('eos')
    for (const row of [0, 1]) {
      const expected = plain[row]?.generated ?? []
      const cut = expected.indexOf(eos)
      expect(mixed[row]?.generated).toEqual(cut === -1 ? expected : expected.slice(0, cut + 1))
    }
  })
})
