import { describe, expect, it } from 'vitest'
import type { ForwardLogits } from '../../src/main/core/eval/forward-logits.ts'
import { scoreContinuations } from '../../src/main/core/eval/log-likelihood.ts'
import { evaluateMultipleChoice } from '../../src/main/core/eval/multiple-choice.ts'
import { perplexity } from '../../src/main/core/eval/perplexity.ts'
import { isTillerError } from '../../src/main/core/errors.ts'

const vocab = 7

/** A bigram "model": the logits after token t are row t of a fixed table. */
function bigramLogit(previous: number, next: number): number {
  return Math.sin(previous * 1.7 + next * 0.9) * 3 + (next === (previous + 1) % vocab ? 2 : 0)
}

function bigramLogProbability(previous: number, next: number): number {
  let total = 0
  for (let id = 0; id < vocab; id++) total += Math.exp(bigramLogit(previous, id))
  return bigramLogit(previous, next) - Math.log(total)
}

/** Left pads rows to the longest plus `extraPadding` columns (garbage logits in padding), like the runtime does. */
function bigramForward(extraPadding: number, calls: number[][][] = []): ForwardLogits {
  return async (rows) => {
    calls.push(rows)
    const sequence = Math.max(...rows.map((row) => row.length)) + extraPadding
    const logits = new Float32Array(rows.length * sequence * vocab).fill(99)
    const leftPadding = rows.map((row) => sequence - row.length)
    rows.forEach((row, index) => {
      row.forEach((token, position) => {
        const column = (leftPadding[index] as number) + position
        for (let id = 0; id < vocab; id++)
          logits[(index * sequence + column) * vocab + id] = bigramLogit(token, id)
      })
    })
    return { logits, vocab, sequence, leftPadding }
  }
}

describe('log-likelihood scoring', () => {
  it('sums the log-softmax of each continuation token given everything before it', async () => {
    const requests = [
      { context: [1, 2], continuation: [3, 4, 0] },
      { context: [5], continuation: [6] },
      { context: [0, 0, 0, 0], continuation: [2, 2] },
    ]
    const calls: number[][][] = []
    const scores = await scoreContinuations(bigramForward(1, calls), requests, { batchSize: 2 })
    expect(calls.map((call) => call.length)).toEqual([2, 1])
    requests.forEach((request, index) => {
      const tokens = [...request.context, ...request.continuation]
      const expected = request.continuation.map((token, offset) =>
        bigramLogProbability(tokens[request.context.length + offset - 1] as number, token),
      )
      const score = scores[index]
      expect(score?.tokenLogProbabilities.length).toBe(expected.length)
      score?.tokenLogProbabilities.forEach((value, offset) =>
        expect(value).toBeCloseTo(expected[offset] as number, 5),
      )
      expect(score?.logProbability).toBeCloseTo(
        expected.reduce((sum, value) => sum + value, 0),
        5,
      )
    })
  })

  it('reports whether the continuation is the greedy one', async () => {
    const greedyNext = (previous: number): number => {
      let best = 0
      for (let id = 1; id < vocab; id++)
        if (bigramLogit(previous, id) > bigramLogit(previous, best)) best = id
      return best
    }
    const first = greedyNext(3)
    const second = greedyNext(first)
    const [greedy, other] = await scoreContinuations(bigramForward(0), [
      { context: [3], continuation: [first, second] },
      { context: [3], continuation: [first, (second + 1) % vocab] },
    ])
    expect(greedy?.greedy).toBe(true)
    expect(other?.greedy).toBe(false)
  })

  it('refuses empty contexts with a message naming the request', async () => {
    const error = await scoreContinuations(bigramForward(0), [{ context: [], continuation: [1] }]).catch(
      (caught) => caught,
    )
    expect(isTillerError(error, 'invalid-argument')).toBe(true)
    expect(String(error)).toMatch(/request 0/)
  })
})

describe('multiple choice', () => {
  it('computes MC1 and MC2 from the summed choice scores', async () => {
    const items = [
      { id: 'a', prompt: [1], choices: [[2], [4], [5, 6]], correct: [0] },
      { id: 'b', prompt: [3], choices: [[0], [4]], correct: [1] },
      { id: 'c', prompt: [6], choices: [[0, 1], [1], [2]], correct: [0, 2] },
    ]
    const result = await evaluateMultipleChoice(bigramForward(2), items, { batchSize: 3 })
    let mc1Count = 0
    let mc2Total = 0
    items.forEach((item, index) => {
      const scores = item.choices.map((choice) => {
        const tokens = [...item.prompt, ...choice]
        return choice.reduce(
          (sum, token, offset) => sum + bigramLogProbability(tokens[offset] as number, token),
          0,
        )
      })
      const right = scores.filter((_, choice) => item.correct.includes(choice))
      const wrong = scores.filter((_, choice) => !item.correct.includes(choice))
      const mc1 = Math.max(...right) > Math.max(...wrong)
      const mc2 =
        right.reduce((sum, score) => sum + Math.exp(score), 0) /
        scores.reduce((sum, score) => sum + Math.exp(score), 0)
      mc1Count += mc1 ? 1 : 0
      mc2Total += mc2
      const actual = result.items[index]
      expect(actual?.mc1).toBe(mc1)
      expect(actual?.mc2).toBeCloseTo(mc2, 5)
      actual?.scores.forEach((score, choice) => expect(score).toBeCloseTo(scores[choice] as number, 5))
    })
    expect(result.mc1Accuracy).toBeCloseTo(mc1Count / items.length, 10)
    expect(result.mc2Mean).toBeCloseTo(mc2Total / items.length, 5)
  })

  it('refuses an item without a wrong choice', async () => {
    const error = await evaluateMultipleChoice(bigramForward(0), [
      { id: 'only', prompt: [1], choices: [[2]], correct: [0] },
    ]).catch((caught) => caught)
    expect(isTillerError(error, 'invalid-argument')).toBe(true)
    expect(String(error)).toMatch(/only/)
  })
})

describe('perplexity', () => {
  it('is exp of the mean negative log-likelihood over every token after the first', async () => {
    const texts = [
      [0, 1, 2, 3, 4],
      [5, 5, 6],
    ]
    let total = 0
    let count = 0
    for (const text of texts) {
      for (let position = 1; position < text.length; position++) {
        total -= bigramLogProbability(text[position - 1] as number, text[position] as number)
        count++
      }
    }
    const result = await perplexity(bigramForward(1), texts)
    expect(result.tokens).toBe(count)
    expect(result.negativeLogLikelihood).toBeCloseTo(total, 5)
    expect(result.perplexity).toBeCloseTo(Math.exp(total / count), 5)
    expect(result.bitsPerToken).toBeCloseTo(total / count / Math.LN2, 5)
  })

  it('refuses texts longer than the model takes', async () => {
    const error = await perplexity(bigramForward(0), [[1, 2, 3, 4]], { maxLength: 3 }).catch(
      (caught) => caught,
    )
    expect(isTillerError(error, 'prompt-too-long')).toBe(true)
  })
})
