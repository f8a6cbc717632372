/**
 * Choosing the next token from one row's logits `[vocab]`: repetition penalty, then greedy argmax (temperature 0)
 * or temperature sampling restricted by top-k and top-p. One sampler per batch row, each with its own generator,
 * so a row's draws do not depend on the other rows in the batch.
 *
 * Work stays on typed arrays sized once per row: no full-vocabulary allocations per step.
 */
import { Random } from './random.ts'

/** How a row picks its next token. */
export interface SamplingOptions {
  /** 0 = greedy (argmax); otherwise logits are divided by it before the softmax. */
  temperature: number
  /** Keep only the k most likely tokens; 0 = no limit. */
  topK: number
  /** Keep the smallest set of most likely tokens whose probability reaches p; 1 = no limit. */
  topP: number
  /** Hugging Face repetition penalty over prompt and generated tokens; 1 = off. */
  repetitionPenalty: number
}

/** Index of the largest value; NaN never wins, ties go to the lowest index. */
export function argmax(values: Float32Array): number {
  let best = 0
  let bestValue = -Infinity
  for (let index = 0; index < values.length; index++) {
    const value = values[index] as number
    if (value > bestValue) {
      bestValue = value
      best = index
    }
  }
  return best
}

/** Whether candidate a ranks below b: lower value, or equal value and higher index. */
function ranksBelow(values: Float32Array, a: number, b: number): boolean {
  const difference = (values[a] as number) - (values[b] as number)
  return difference < 0 || (difference === 0 && a > b)
}

function siftDown(heap: Uint32Array, size: number, start: number, values: Float32Array): void {
  let parent = start
  for (;;) {
    const left = 2 * parent + 1
    if (left >= size) return
    const right = left + 1
    let lowest = left
    if (right < size && ranksBelow(values, heap[right] as number, heap[left] as number)) lowest = right
    if (!ranksBelow(values, heap[lowest] as number, heap[parent] as number)) return
    const swap = heap[parent] as number
    heap[parent] = heap[lowest] as number
    heap[lowest] = swap
    parent = lowest
  }
}

/**
 * Write the indices of the `k` largest values into `target[0..k)` (unordered) with a size-k min-heap:
 * O(vocab log k) time, no allocation.
 */
export function selectTopK(values: Float32Array, k: number, target: Uint32Array): number {
  const size = Math.min(k, values.length)
  for (let index = 0; index < size; index++) target[index] = index
  for (let index = (size >> 1) - 1; index >= 0; index--) siftDown(target, size, index, values)
  for (let index = size; index < values.length; index++) {
    if (ranksBelow(values, target[0] as number, index)) {
      target[0] = index
      siftDown(target, size, 0, values)
    }
  }
  return size
}

/** Picks tokens for one row. Feed it every token the row sees (prompt first) through {@link observe}. */
export class RowSampler {
  private readonly options: SamplingOptions
  private readonly random: Random
  private readonly seen: Uint8Array
  private readonly seenTokens: number[] = []
  /** Candidate token ids. */
  private readonly candidates: Uint32Array
  /** Unnormalised probabilities, indexed by token id. */
  private readonly weights: Float32Array

  constructor(vocabSize: number, options: SamplingOptions, seed: number) {
    this.options = options
    this.random = new Random(seed)
    this.seen = new Uint8Array(vocabSize)
    this.candidates = new Uint32Array(vocabSize)
    this.weights = new Float32Array(vocabSize)
  }

  /** Record a token of the row, for the repetition penalty. */
  observe(token: number): void {
    if (this.options.repetitionPenalty === 1 || this.seen[token] === 1) return
    this.seen[token] = 1
    this.seenTokens.push(token)
  }

  /** Choose the next token from `logits` `[vocab]`. The array is modified (penalty applied in place). */
  pick(logits: Float32Array): number {
    const { temperature, repetitionPenalty } = this.options
    if (repetitionPenalty !== 1) {
      for (const token of this.seenTokens) {
        const value = logits[token] as number
        logits[token] = value > 0 ? value / repetitionPenalty : value * repetitionPenalty
      }
    }
    if (temperature <= 0) return argmax(logits)
    return this.sample(logits)
  }

  private sample(logits: Float32Array): number {
    const { temperature, topK, topP } = this.options
    const candidates = this.candidates
    const weights = this.weights
    let count: number
    if (topK > 0 && topK < logits.length) count = selectTopK(logits, topK, candidates)
    else {
      count = logits.length
      for (let index = 0; index < count; index++) candidates[index] = index
    }
    let maximum = -Infinity
    for (let index = 0; index < count; index++) {
      const value = logits[candidates[index] as number] as number
      if (value > maximum) maximum = value
    }
    let total = 0
    for (let index = 0; index < count; index++) {
      const token = candidates[index] as number
      const weight = Math.exp(((logits[token] as number) - maximum) / temperature)
      weights[token] = weight
      total += weight
    }
    if (!(total > 0) || !Number.isFinite(total)) return argmax(logits)
    if (topP < 1) [count, total] = this.nucleus(count, total)
    let threshold = this.random.next() * total
    for (let index = 0; index < count; index++) {
      const token = candidates[index] as number
      threshold -= weights[token] as number
      if (threshold < 0) return token
    }
    return candidates[count - 1] as number
  }

  /**
   * Shrink the candidates to the nucleus: the most likely tokens, best first, until their mass reaches topP.
   * Tokens below (1 - topP) / count of the mass are dropped before sorting: together they weigh less than
   * 1 - topP, so the nucleus never needs them, and the sort stays small.
   */
  private nucleus(count: number, total: number): [number, number] {
    const candidates = this.candidates
    const weights = this.weights
    const floor = ((1 - this.options.topP) * total) / count
    let kept = 0
    for (let index = 0; index < count; index++) {
      const token = candidates[index] as number
      if ((weights[token] as number) >= floor) candidates[kept++] = token
    }
    const ranked = candidates.subarray(0, kept)
    ranked.sort((a, b) => (weights[b] as number) - (weights[a] as number) || a - b)
    const target = this.options.topP * total
    let mass = 0
    let size = 0
    while (size < kept && mass < target) mass += weights[ranked[size++] as number] as number
    return [Math.max(size, 1), mass > 0 ? mass : (weights[ranked[0] as number] as number)]
  }
}
