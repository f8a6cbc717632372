import { describe, expect, it } from 'vitest'
import type { LlamaConfig } from '../../src/main/core/models/checkpoint.ts'
import { packBatch } from '../../src/organism/training/batches.ts'
import { initializeParameters, toCheckpoint } from '../../src/organism/training/parameters.ts'
import { contrastWeights, type ContrastSpan } from '../../src/organism/training/separation-term.ts'
import { createStepRunner } from '../../src/organism/training/step-runner.ts'
import { trainModel, type TrainingSettings, type TrainingText } from '../../src/organism/training/trainer.ts'
import { createRandom } from '../../src/main/core/random-streams.ts'
import { referenceForward, referenceTrace } from '../helpers/reference-llama.ts'

const micro: LlamaConfig = {
  vocabSize: 23,
  hiddenSize: 32,
  intermediateSize: 48,
  numLayers: 2,
  numHeads: 2,
  numKeyValueHeads: 2,
  headDim: 16,
  rmsNormEps: 1e-5,
  ropeTheta: 10000,
  maxPositionEmbeddings: 16,
  tieWordEmbeddings: true,
  bosTokenId: 2,
  eosTokenId: 3,
}

/** The micro configuration with an output head of its own (`lm_head.weight`). */
const microUntied: LlamaConfig = { ...micro, tieWordEmbeddings: false }

/** Weights large enough that every path of the graph carries signal (the 0.02 initialisation is nearly linear). */
function liveParameters(config: LlamaConfig, seed: number): Map<string, Float32Array> {
  const parameters = initializeParameters(config, seed)
  for (const [name, values] of parameters) {
    const scale = name.endsWith('norm.weight') ? 1 : 12
    const random = createRandom(seed).fork(name)
    for (let index = 0; index < values.length; index++) {
      values[index] =
        (values[index] as number) * scale + (name.endsWith('norm.weight') ? 0.3 * random.normal() : 0)
    }
  }
  return parameters
}

// Three documents: two share row 0 (positions restart at the second), one fills most of row 1.
const documents = [
  [2, 7, 8, 9, 10, 3],
  [2, 11, 12, 3],
  [2, 5, 6, 7, 8, 9, 10, 11, 12, 13],
]
const placements = [
  { row: 0, offset: 0 },
  { row: 0, offset: 6 },
  { row: 1, offset: 0 },
]

/** A document generator over the micro vocabulary with learnable structure: counting runs that wrap around. */
function countingDocuments(seed: number): () => number[] {
  const random = createRandom(seed)
  return () => {
    const start = 4 + random.int(19)
    const length = 3 + random.int(8)
    return [2, ...Array.from({ length }, (_, index) => 4 + ((start - 4 + index) % 19)), 3]
  }
}

/** Token lists as training texts without contrast spans. */
function asTexts(next: () => number[]): () => TrainingText {
  return () => ({ tokens: next() })
}

const settings: TrainingSettings = {
  seed: 5,
  steps: 30,
  batchRows: 4,
  sequence: 16,
  peakLearningRate: 1e-2,
  warmupSteps: 3,
  finalLearningRateFraction: 0.1,
  weightDecay: 0.01,
  beta1: 0.9,
  beta2: 0.95,
  gradientClip: 1,
  // Two threads, as the real run uses: results must not depend on how ONNX Runtime splits the work.
  threads: 2,
}

describe.each([
  ['tied', micro],
  ['untied', microUntied],
])('organism training graph, %s output head', (_, config) => {
  it('computes the same logits as the plain reference forward pass, documents packed apart', async () => {
    const parameters = liveParameters(config, 1)
    const runner = await createStepRunner({
      config,
      batch: 2,
      sequence: 12,
      floatType: 'float64',
      outputLogits: true,
    })
    try {
      const { batch, used } = packBatch(documents, config, 2, 12, 'float64')
      expect(used).toBe(3)
      const weights = new Map([...parameters].map(([name, values]) => [name, Float64Array.from(values)]))
      const result = await runner.run(weights, batch)
      const checkpoint = toCheckpoint(config, parameters)
      let worst = 0
      documents.forEach((document, index) => {
        const reference = referenceForward(checkpoint, document)
        const { row, offset } = placements[index] as { row: number; offset: number }
        for (let position = 0; position < document.length; position++) {
          for (let token = 0; token < config.vocabSize; token++) {
            const ours = result.logits?.[(row * 12 + offset + position) * config.vocabSize + token] as number
            worst = Math.max(
              worst,
              Math.abs(ours - (reference[position * config.vocabSize + token] as number)),
            )
          }
        }
      })
      expect(worst).toBeLessThan(1e-5)
    } finally {
      await runner.release()
    }
  })

  it('computes gradients that match central finite differences (float64)', async () => {
    const parameters = liveParameters(config, 2)
    const runner = await createStepRunner({ config, batch: 2, sequence: 12, floatType: 'float64' })
    try {
      const { batch } = packBatch(documents, config, 2, 12, 'float64')
      const weights = new Map([...parameters].map(([name, values]) => [name, Float64Array.from(values)]))
      const { gradients } = await runner.run(weights, batch)
      const random = createRandom(3)
      let checked = 0
      for (const [name, values] of weights) {
        const gradient = gradients.get(name)
        if (gradient === undefined) throw new Error(`no gradient for ${name}`)
        for (let sample = 0; sample < 3; sample++) {
          const index = random.int(values.length)
          const original = values[index] as number
          const step = 1e-5
          values[index] = original + step
          const plus = (await runner.run(weights, batch)).loss
          values[index] = original - step
          const minus = (await runner.run(weights, batch)).loss
          values[index] = original
          const numeric = (plus - minus) / (2 * step)
          const analytic = gradient[index] as number
          expect(Math.abs(numeric - analytic), `${name}[${index}]`).toBeLessThan(
            1e-6 + 1e-4 * Math.abs(numeric),
          )
          checked++
        }
      }
      expect(checked).toBe(weights.size * 3)
      expect(weights.has('lm_head.weight')).toBe(!config.tieWordEmbeddings)
    } finally {
      await runner.release()
    }
  })
})

describe('organism training', () => {
  it('lowers the loss within a few steps and is deterministic for a seed', async () => {
    const first = await trainModel(micro, settings, asTexts(countingDocuments(9)))
    const losses = first.history.map((report) => report.loss)
    const early = (losses[0] as number) + (losses[1] as number)
    const late = (losses[losses.length - 1] as number) + (losses[losses.length - 2] as number)
    expect(late).toBeLessThan(early * 0.7)
    const second = await trainModel(micro, settings, asTexts(countingDocuments(9)))
    expect(second.history.map((report) => report.loss)).toEqual(losses)
    for (const [name, values] of first.parameters) expect(second.parameters.get(name), name).toEqual(values)
  })
})

// Contrast spans of `documents`: group 0 has two positive spans and one negative, group 1 one of each, group 2
// only a positive one (no direction).
const spans: ContrastSpan[][] = [
  [
    { group: 0, sign: 1, start: 1, end: 3 },
    { group: 1, sign: -1, start: 3, end: 5 },
  ],
  [{ group: 0, sign: -1, start: 1, end: 3 }],
  [
    { group: 1, sign: 1, start: 1, end: 5 },
    { group: 0, sign: 1, start: 5, end: 9 },
    { group: 2, sign: 1, start: 1, end: 2 },
  ],
]

describe('organism separation term', () => {
  it('weighs each span as one example of its side', () => {
    const { placements } = packBatch(documents, micro, 2, 12, 'float64')
    const weights = contrastWeights(spans, placements, 3, 2, 12, 'float64')
    const expected = new Float64Array(3 * 24)
    // group 0: doc 0 tokens 1–2 (slots 1, 2), doc 2 tokens 5–8 (row 1: slots 17–20), doc 1 tokens 1–2 (slots 7, 8)
    for (const slot of [1, 2]) expected[slot] = 1 / (2 * 2)
    for (const slot of [17, 18, 19, 20]) expected[slot] = 1 / (2 * 4)
    for (const slot of [7, 8]) expected[slot] = -1 / 2
    // group 1: doc 0 tokens 3–4 (slots 3, 4), doc 2 tokens 1–4 (slots 13–16)
    for (const slot of [3, 4]) expected[24 + slot] = -1 / 2
    for (const slot of [13, 14, 15, 16]) expected[24 + slot] = 1 / 4
    expect(Array.from(weights)).toEqual(Array.from(expected))
  })

  it('equals the mean squared cosine of the contrasts computed directly, with exact gradients (float64)', async () => {
    const parameters = liveParameters(micro, 4)
    const weight = 0.7
    const runner = await createStepRunner({
      config: micro,
      batch: 2,
      sequence: 12,
      floatType: 'float64',
      separation: { groups: 3, weight },
    })
    try {
      const { batch, placements } = packBatch(documents, micro, 2, 12, 'float64')
      batch.contrastWeights = contrastWeights(spans, placements, 3, 2, 12, 'float64')
      const weights = new Map([...parameters].map(([name, values]) => [name, Float64Array.from(values)]))
      const result = await runner.run(weights, batch)

      // Direct: each document's residual stream per layer, the per-span means, their differences and cosines.
      const traces = documents.map((document) => referenceTrace(toCheckpoint(micro, parameters), document))
      const hidden = micro.hiddenSize
      let sum = 0
      for (let layer = 0; layer < micro.numLayers; layer++) {
        const differences = [0, 1].map((group) => {
          const difference = new Float64Array(hidden)
          spans.forEach((documentSpans, document) => {
            const states = traces[document]?.layers[layer]?.residPost as Float32Array
            for (const span of documentSpans.filter((candidate) => candidate.group === group)) {
              const sameSide = spans
                .flat()
                .filter((other) => other.group === group && other.sign === span.sign)
              const share = span.sign / (sameSide.length * (span.end - span.start))
              for (let position = span.start; position < span.end; position++)
                for (let unit = 0; unit < hidden; unit++)
                  difference[unit] =
                    (difference[unit] as number) + share * (states[position * hidden + unit] as number)
            }
          })
          return difference
        })
        const [first, second] = differences as [Float64Array, Float64Array]
        const dot = (a: Float64Array, b: Float64Array): number =>
          a.reduce((total, value, index) => total + value * (b[index] as number), 0)
        const cosine = dot(first, second) / Math.sqrt(dot(first, first) * dot(second, second))
        sum += cosine * cosine
      }
      const terms = micro.numLayers * 3
      expect(result.separation).toBeGreaterThan(0.01)
      expect(Math.abs((result.separation as number) - sum / terms)).toBeLessThan(1e-5)

      const total = async (): Promise<number> => {
        const run = await runner.run(weights, batch)
        return run.loss + weight * (run.separation as number)
      }
      const random = createRandom(6)
      for (const [name, values] of weights) {
        const gradient = result.gradients.get(name) as Float64Array
        for (let sample = 0; sample < 3; sample++) {
          const index = random.int(values.length)
          const original = values[index] as number
          const step = 1e-5
          values[index] = original + step
          const plus = await total()
          values[index] = original - step
          const minus = await total()
          values[index] = original
          const numeric = (plus - minus) / (2 * step)
          expect(Math.abs(numeric - (gradient[index] as number)), `${name}[${index}]`).toBeLessThan(
            1e-6 + 1e-4 * Math.abs(numeric),
          )
        }
      }
    } finally {
      await runner.release()
    }
  })

  it('lowers the term along its gradient, and leaves training alone at weight 0', async () => {
    // Two contrasts over counting runs, each run in one: long against short runs, among runs starting on an even
    // token (group 0) and among runs starting on an odd one (group 1).
    const texts = (): (() => TrainingText) => {
      const next = countingDocuments(9)
      return () => {
        const tokens = next()
        const group = (tokens[1] as number) % 2
        return {
          tokens,
          spans: [{ group, sign: tokens.length > 8 ? 1 : -1, start: 1, end: tokens.length - 1 }],
        }
      }
    }
    const unweighted = await trainModel(micro, { ...settings, separation: { groups: 2, weight: 0 } }, texts())
    const plain = await trainModel(micro, settings, asTexts(countingDocuments(9)))
    expect(unweighted.history.map((report) => report.loss)).toEqual(
      plain.history.map((report) => report.loss),
    )
    expect(unweighted.history.every((report) => Number.isFinite(report.separation))).toBe(true)

    // With the cross-entropy switched off (zero loss weights) the gradients are the term's alone: small steps
    // down them on one batch must pull the two contrasts apart, with the exact gradient and with norms held.
    for (const fixedNorms of [false, true]) {
      const runner = await createStepRunner({
        config: micro,
        batch: 16,
        sequence: 16,
        floatType: 'float32',
        separation: { groups: 2, weight: 1, fixedNorms },
      })
      try {
        const next = texts()
        const held = Array.from({ length: 40 }, next)
        const { batch, placements } = packBatch(
          held.map((text) => text.tokens),
          micro,
          16,
          16,
          'float32',
        )
        batch.contrastWeights = contrastWeights(
          held.map((text) => text.spans ?? []),
          placements,
          2,
          16,
          16,
          'float32',
        )
        batch.lossWeights.fill(0)
        const parameters = initializeParameters(micro, 5)
        const values: number[] = []
        for (let step = 0; step < 10; step++) {
          const result = await runner.run(parameters, batch)
          values.push(result.separation as number)
          let squares = 0
          for (const gradient of result.gradients.values())
            for (const value of gradient) squares += value * value
          for (const [name, gradient] of result.gradients) {
            const weights = parameters.get(name) as Float32Array
            for (let index = 0; index < weights.length; index++)
              weights[index] =
                (weights[index] as number) - (0.005 * (gradient[index] as number)) / Math.sqrt(squares)
          }
        }
        expect(values[0]).toBeGreaterThan(0.02)
        expect(values.at(-1), fixedNorms ? 'norms held' : 'exact gradient').toBeLessThan(
          (values[0] as number) / 10,
        )
      } finally {
        await runner.release()
      }
    }
  })
})
