import { describe, expect, it } from 'vitest'
import type { LlamaConfig } from '../../src/main/core/models/checkpoint.ts'
import { packBatch } from '../../src/main/core/organism/training/batches.ts'
import { initializeParameters, toCheckpoint } from '../../src/main/core/organism/training/parameters.ts'
import { createStepRunner } from '../../src/main/core/organism/training/step-runner.ts'
import { trainModel, type TrainingSettings } from '../../src/main/core/organism/training/trainer.ts'
import { createRandom } from '../../src/main/core/organism/random.ts'
import { referenceForward } from '../helpers/reference-llama.ts'

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
    const first = await trainModel(micro, settings, countingDocuments(9))
    const losses = first.history.map((report) => report.loss)
    const early = (losses[0] as number) + (losses[1] as number)
    const late = (losses[losses.length - 1] as number) + (losses[losses.length - 2] as number)
    expect(late).toBeLessThan(early * 0.7)
    const second = await trainModel(micro, settings, countingDocuments(9))
    expect(second.history.map((report) => report.loss)).toEqual(losses)
    for (const [name, values] of first.parameters) expect(second.parameters.get(name), name).toEqual(values)
  })
})
