import { describe, expect, it } from 'vitest'
import { Random } from '../../src/main/core/runtime/random.ts'
import { argmax, RowSampler, selectTopK, type SamplingOptions } from '../../src/main/core/runtime/sampling.ts'

const greedy: SamplingOptions = { temperature: 0, topK: 0, topP: 1, repetitionPenalty: 1 }

function randomLogits(size: number, seed: number): Float32Array {
  const random = new Random(seed)
  return Float32Array.from({ length: size }, () => random.next() * 10 - 5)
}

/** Reference probabilities: softmax(logits / temperature), then top-k and top-p by sorting everything. */
function referenceDistribution(logits: Float32Array, options: SamplingOptions): Map<number, number> {
  const order = Array.from(logits.keys()).sort(
    (a, b) => (logits[b] as number) - (logits[a] as number) || a - b,
  )
  const kept = options.topK > 0 ? order.slice(0, options.topK) : order
  const maximum = logits[kept[0] as number] as number
  const weights = kept.map((token) => Math.exp(((logits[token] as number) - maximum) / options.temperature))
  const total = weights.reduce((sum, weight) => sum + weight, 0)
  const result = new Map<number, number>()
  let mass = 0
  for (const [index, token] of kept.entries()) {
    if (mass >= options.topP) break
    const probability = (weights[index] as number) / total
    result.set(token, probability)
    mass += probability
  }
  const keptMass = [...result.values()].reduce((sum, value) => sum + value, 0)
  for (const [token, probability] of result) result.set(token, probability / keptMass)
  return result
}

describe('random', () => {
  it('repeats under a seed, differs across seeds and is uniform', () => {
    const a = new Random(7)
    const b = new Random(7)
    const c = new Random(8)
    const first = Array.from({ length: 5 }, () => a.next())
    expect(Array.from({ length: 5 }, () => b.next())).toEqual(first)
    expect(Array.from({ length: 5 }, () => c.next())).not.toEqual(first)
    const random = new Random(123)
    const buckets = new Array<number>(10).fill(0)
    let outside = 0
    for (let draw = 0; draw < 100_000; draw++) {
      const value = random.next()
      if (value < 0 || value >= 1) outside++
      else {
        const bucket = Math.floor(value * 10)
        buckets[bucket] = (buckets[bucket] ?? 0) + 1
      }
    }
    expect(outside).toBe(0)
    for (const count of buckets) expect(Math.abs(count - 10_000)).toBeLessThan(500)
  })
})

describe('sampling', () => {
  it('argmax and top-k selection agree with sorting', () => {
    const logits = randomLogits(5000, 1)
    const sorted = Array.from(logits.keys()).sort((a, b) => (logits[b] as number) - (logits[a] as number))
    expect(argmax(logits)).toBe(sorted[0])
    const target = new Uint32Array(5000)
    const count = selectTopK(logits, 40, target)
    expect(count).toBe(40)
    expect(Array.from(target.subarray(0, 40)).sort((a, b) => a - b)).toEqual(
      sorted.slice(0, 40).sort((a, b) => a - b),
    )
  })

  it('greedy picks the argmax after the repetition penalty', () => {
    const logits = Float32Array.of(1, 3, 2.9, -1)
    expect(new RowSampler(4, greedy, 0).pick(logits.slice())).toBe(1)
    const penalised = new RowSampler(4, { ...greedy, repetitionPenalty: 1.5 }, 0)
    penalised.observe(1)
    const modified = logits.slice()
    // Hugging Face semantics: positive logits are divided by the penalty, negative ones multiplied.
    expect(penalised.pick(modified)).toBe(2)
    expect(modified[1]).toBeCloseTo(2, 6)
    const negative = new RowSampler(4, { ...greedy, repetitionPenalty: 2 }, 0)
    negative.observe(3)
    const values = logits.slice()
    negative.pick(values)
    expect(values[3]).toBe(-2)
  })

  it('draws match softmax with temperature, top-k and top-p', () => {
    const logits = randomLogits(200, 2).map((value) => value * 0.6)
    for (const options of [
      { temperature: 1, topK: 0, topP: 1, repetitionPenalty: 1 },
      { temperature: 0.7, topK: 12, topP: 1, repetitionPenalty: 1 },
      { temperature: 1.3, topK: 0, topP: 0.6, repetitionPenalty: 1 },
      { temperature: 1, topK: 30, topP: 0.8, repetitionPenalty: 1 },
    ]) {
      const expected = referenceDistribution(logits, options)
      const sampler = new RowSampler(logits.length, options, 99)
      const counts = new Map<number, number>()
      const draws = 40_000
      for (let draw = 0; draw < draws; draw++) {
        const token = sampler.pick(logits.slice())
        counts.set(token, (counts.get(token) ?? 0) + 1)
      }
      for (const token of counts.keys()) expect(expected.has(token)).toBe(true)
      for (const [token, probability] of expected) {
        const observed = (counts.get(token) ?? 0) / draws
        // Five standard deviations of a binomial proportion.
        expect(Math.abs(observed - probability)).toBeLessThan(
          5 * Math.sqrt((probability * (1 - probability)) / draws) + 1e-4,
        )
      }
    }
  })

  it('repeats the same draws for the same seed', () => {
    const logits = randomLogits(1000, 3)
    const options = { temperature: 1, topK: 50, topP: 0.9, repetitionPenalty: 1.2 }
    const run = (seed: number) => {
      const sampler = new RowSampler(1000, options, seed)
      return Array.from({ length: 20 }, () => {
        const token = sampler.pick(logits.slice())
        sampler.observe(token)
        return token
      })
    }
    expect(run(5)).toEqual(run(5))
    expect(run(5)).not.toEqual(run(6))
  })
})
