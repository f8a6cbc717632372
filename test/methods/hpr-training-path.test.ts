/**
 * HPR's training loops (the angle networks' gradient graph with the fused AdamW kernel, the probes' unrolled graph
 * runs, AdamW on unscaled moments, per-epoch shuffles, the learning-rate schedule, each epoch's last short batch
 * and run, kept epochs) against a step-by-step reference: one gradient-graph run per
 * batch and PyTorch's AdamW written out in float64, on a small problem with dropped pairs.
 */
import * as ort from 'onnxruntime-node'
import { describe, expect, it } from 'vitest'
import {
  angleNames,
  angleParameters,
  buildAngleTrainingGraph,
} from '../../src/main/core/methods/hpr/angle-graph.ts'
import { openSession } from '../../src/main/core/methods/hpr/graph-session.ts'
import { initialAngleNetwork, initialProbes } from '../../src/main/core/methods/hpr/initialization.ts'
import {
  buildProbeTrainingGraph,
  gradientOutput,
  probeNames,
} from '../../src/main/core/methods/hpr/probe-graph.ts'
import { learningRateAt, learningRateSchedule } from '../../src/main/core/methods/hpr/schedule.ts'
import { trainAngles } from '../../src/main/core/methods/hpr/train-angles.ts'
import { probeStepsPerRun, trainProbes } from '../../src/main/core/methods/hpr/train-probes.ts'
import {
  epochBatches,
  paperAdamW,
  type HprTrainingSettings,
} from '../../src/main/core/methods/hpr/training-settings.ts'
import {
  clampedAngle,
  type LayerPairs,
  type TokenPairs,
} from '../../src/main/core/methods/hpr/token-pairs.ts'
import { angleWidths } from '../../src/main/core/methods/hpr/training.ts'
import { createRandom } from '../../src/main/core/random-streams.ts'

const width = 16
const rows = 48
const validationRows = 8
// 40 training pairs in batches of 4: ten steps an epoch, so every epoch ends with a run shorter than a full one.
const settings: HprTrainingSettings = {
  epochs: 3,
  batchSize: 4,
  learningRate: 0.02,
  warmupRatio: 0.1,
  schedule: 'linear',
  adamW: paperAdamW,
  seed: 5,
  threads: 1,
}

/** Two layers of token pairs with a shift along the first coordinate; every seventh pair is dropped. */
function tokenPairs(): TokenPairs {
  const random = createRandom(31)
  const layers: LayerPairs[] = [3, 5].map((layer, index) => {
    const positive = new Float32Array(rows * width)
    const negative = new Float32Array(rows * width)
    const kept = new Uint8Array(rows)
    for (let row = 0; row < rows; row++) {
      kept[row] = row % 7 === 3 ? 0 : 1
      for (let column = 0; column < width; column++) {
        const base = random.normal()
        const shift = column === 0 ? 1 + index : 0
        positive[row * width + column] = base + shift + 0.3 * random.normal()
        negative[row * width + column] = base - shift + 0.3 * random.normal()
      }
    }
    const keptIn = (from: number, to: number) => kept.slice(from, to).reduce((sum, value) => sum + value, 0)
    return {
      layer,
      positive,
      negative,
      kept,
      keptTrain: keptIn(0, rows - validationRows),
      keptValidation: keptIn(rows - validationRows, rows),
    }
  })
  const all = Array.from({ length: rows }, (_, row) => row)
  return {
    width,
    rows,
    layers,
    trainRows: all.slice(0, rows - validationRows),
    validationRows: all.slice(rows - validationRows),
    trainDemonstrations: 4,
    validationDemonstrations: 1,
  }
}

/** PyTorch's AdamW in float64 over named parameters; `step` takes the gradients of the current values. */
class ReferenceAdamW {
  readonly values = new Map<string, Float64Array>()
  private readonly first = new Map<string, Float64Array>()
  private readonly second = new Map<string, Float64Array>()
  private count = 0

  constructor(initial: Map<string, Float32Array>) {
    for (const [name, values] of initial) {
      this.values.set(name, Float64Array.from(values))
      this.first.set(name, new Float64Array(values.length))
      this.second.set(name, new Float64Array(values.length))
    }
  }

  step(gradients: Map<string, Float32Array>, rate: number): void {
    this.count++
    const { beta1, beta2, epsilon } = paperAdamW
    for (const [name, values] of this.values) {
      const gradient = gradients.get(name) as Float32Array
      const first = this.first.get(name) as Float64Array
      const second = this.second.get(name) as Float64Array
      for (let index = 0; index < values.length; index++) {
        const g = gradient[index] as number
        first[index] = beta1 * (first[index] as number) + (1 - beta1) * g
        second[index] = beta2 * (second[index] as number) + (1 - beta2) * g * g
        const corrected = (first[index] as number) / (1 - beta1 ** this.count)
        const denominator = Math.sqrt((second[index] as number) / (1 - beta2 ** this.count)) + epsilon
        values[index] = (values[index] as number) - (rate * corrected) / denominator
      }
    }
  }

  snapshot(): Map<string, Float64Array> {
    return new Map([...this.values].map(([name, values]) => [name, values.slice()]))
  }
}

const tensor = (values: Float32Array | Float64Array, dims: number[]) =>
  new ort.Tensor('float32', Float32Array.from(values), dims)

/** Run settings' epochs step by step: `gradients` gives each batch's gradients; a snapshot after each epoch. */
async function referenceEpochs(
  pairs: TokenPairs,
  reference: ReferenceAdamW,
  gradients: (batch: number[]) => Promise<Map<string, Float32Array>>,
): Promise<Array<Map<string, Float64Array>>> {
  const stepsPerEpoch = Math.ceil(pairs.trainRows.length / settings.batchSize)
  const schedule = learningRateSchedule(
    settings.schedule,
    settings.learningRate,
    settings.warmupRatio,
    stepsPerEpoch * settings.epochs,
  )
  const snapshots: Array<Map<string, Float64Array>> = []
  let step = 0
  for (let epoch = 0; epoch < settings.epochs; epoch++) {
    for (const batch of epochBatches(pairs.trainRows, settings.batchSize, settings.seed, epoch)) {
      reference.step(await gradients(batch), learningRateAt(schedule, step))
      step++
    }
    snapshots.push(reference.snapshot())
  }
  return snapshots
}

/** Largest |a − b| and largest |b − initial| over every element. */
function differences(
  trained: Float32Array,
  expected: Float64Array,
  initial: Float32Array,
): { error: number; moved: number } {
  let error = 0
  let moved = 0
  expected.forEach((value, index) => {
    error = Math.max(error, Math.abs((trained[index] as number) - value))
    moved = Math.max(moved, Math.abs(value - (initial[index] as number)))
  })
  return { error, moved }
}

describe('HPR training loops against a step-by-step reference', () => {
  it('gives the stacked angle networks the steps of each layer trained alone with a float64 AdamW', async () => {
    const pairs = tokenPairs()
    const widths = angleWidths(width)
    const tasks = pairs.layers
    const initial = new Map<string, Float32Array>()
    tasks.forEach((task, slot) => {
      for (const [name, parameter] of initialAngleNetwork(task.layer, slot, widths, settings.seed))
        initial.set(name, parameter.values)
    })
    // Each layer's network alone in its own one-layer graph: nothing couples the layers in the reference.
    const gradientSession = await openSession(
      buildAngleTrainingGraph({
        layers: 1,
        widths,
        floatType: 'float32',
        mode: 'gradients',
        adamW: paperAdamW,
      }),
      1,
    )
    const reference = new ReferenceAdamW(initial)
    const slotParameters = (slot: number) =>
      angleParameters(slot, widths).map(([name, shape], index) => ({
        name,
        shape,
        alone: (angleParameters(0, widths)[index] as [string, number[]])[0],
      }))
    const batchLosses: number[] = []
    const snapshots = await referenceEpochs(pairs, reference, async (batch) => {
      const gradients = new Map<string, Float32Array>()
      let loss = 0
      for (const [slot, task] of tasks.entries()) {
        const feeds: Record<string, ort.Tensor> = {}
        for (const parameter of slotParameters(slot))
          feeds[parameter.alone] = tensor(
            reference.values.get(parameter.name) as Float64Array,
            parameter.shape,
          )
        // a⁺ rows then a⁻ rows; targets g(a⁺, a⁺) and g(a⁻, a⁺); weight 1/(2·kept·layers) on kept pairs.
        const size = batch.length
        const input = new Float32Array(2 * size * width)
        const target = new Float32Array(2 * size)
        const weight = new Float32Array(2 * size)
        const kept = batch.reduce((sum, row) => sum + (task.kept[row] as number), 0)
        batch.forEach((row, index) => {
          input.set(task.positive.subarray(row * width, (row + 1) * width), index * width)
          input.set(task.negative.subarray(row * width, (row + 1) * width), (size + index) * width)
          target[index] = clampedAngle(task.positive, row * width, task.positive, row * width, width)
          target[size + index] = clampedAngle(task.negative, row * width, task.positive, row * width, width)
          const share = task.kept[row] === 1 ? 1 / (2 * kept * tasks.length) : 0
          weight[index] = share
          weight[size + index] = share
        })
        feeds[angleNames.input(0)] = tensor(input, [2 * size, width])
        feeds[angleNames.target(0)] = tensor(target, [2 * size])
        feeds[angleNames.weight(0)] = tensor(weight, [2 * size])
        const outputs = await gradientSession.run(feeds)
        loss += Number((outputs['loss']?.data as Float32Array)[0])
        for (const parameter of slotParameters(slot))
          gradients.set(parameter.name, outputs[gradientOutput(parameter.alone)]?.data as Float32Array)
      }
      batchLosses.push(loss)
      return gradients
    })
    await gradientSession.release()

    const phase = await trainAngles(pairs, tasks, widths, settings, {}, () => {})
    expect(phase.epochLosses).toHaveLength(settings.epochs)
    // Each epoch's mean loss is the mean over its batches of the layers' separate losses (before each update).
    const stepsPerEpoch = batchLosses.length / settings.epochs
    phase.epochLosses.forEach((loss, epoch) => {
      const losses = batchLosses.slice(epoch * stepsPerEpoch, (epoch + 1) * stepsPerEpoch)
      expect(loss).toBeCloseTo(losses.reduce((sum, value) => sum + value, 0) / stepsPerEpoch, 5)
    })
    let worst = 0
    let moved = 0
    phase.networks.forEach((network, slot) => {
      const expected = snapshots[network.keptEpoch] as Map<string, Float64Array>
      network.weights.forEach((values, linear) => {
        const name = angleNames.linearWeight(slot, linear)
        const result = differences(
          values,
          expected.get(name) as Float64Array,
          initial.get(name) as Float32Array,
        )
        worst = Math.max(worst, result.error)
        moved = Math.max(moved, result.moved)
      })
      network.biases.forEach((values, linear) => {
        const name = angleNames.linearBias(slot, linear)
        const result = differences(
          values,
          expected.get(name) as Float64Array,
          initial.get(name) as Float32Array,
        )
        worst = Math.max(worst, result.error)
      })
    })
    // Training moved the weights by far more than the float32 rounding that separates the two paths.
    expect(moved).toBeGreaterThan(0.02)
    expect(worst).toBeLessThan(2e-5)
  })

  it('gives the probes of one gradient run and one float64 AdamW update per batch', async () => {
    const pairs = tokenPairs()
    const layers = pairs.layers
    const count = layers.length
    expect(Math.ceil(pairs.trainRows.length / settings.batchSize)).toBeLessThan(probeStepsPerRun)
    const initial = initialProbes(
      layers.map((entry) => entry.layer),
      width,
      settings.seed,
    )
    const gradientSession = await openSession(
      buildProbeTrainingGraph({
        layers: count,
        width,
        floatType: 'float32',
        mode: 'gradients',
        adamW: paperAdamW,
      }),
      1,
    )
    const reference = new ReferenceAdamW(new Map([[probeNames.probe, initial]]))
    const snapshots = await referenceEpochs(pairs, reference, async (batch) => {
      const size = batch.length
      const positive = new Float32Array(count * size * width)
      const negative = new Float32Array(count * size * width)
      const weights = new Float32Array(count * size)
      layers.forEach((entry, slot) => {
        const kept = batch.reduce((sum, row) => sum + (entry.kept[row] as number), 0)
        batch.forEach((row, index) => {
          positive.set(entry.positive.subarray(row * width, (row + 1) * width), (slot * size + index) * width)
          negative.set(entry.negative.subarray(row * width, (row + 1) * width), (slot * size + index) * width)
          if (entry.kept[row] === 1) weights[slot * size + index] = 1 / (2 * kept * count)
        })
      })
      const outputs = await gradientSession.run({
        [probeNames.positive]: tensor(positive, [count, size, width]),
        [probeNames.negative]: tensor(negative, [count, size, width]),
        [probeNames.pairWeights]: tensor(weights, [count, size]),
        [probeNames.probe]: tensor(reference.values.get(probeNames.probe) as Float64Array, [count, width]),
      })
      return new Map([[probeNames.probe, outputs[gradientOutput(probeNames.probe)]?.data as Float32Array]])
    })
    await gradientSession.release()

    const phase = await trainProbes(pairs, layers, settings, {}, () => {})
    let worst = 0
    let moved = 0
    phase.probes.forEach((probe, slot) => {
      const expected = (snapshots[probe.bestEpoch] as Map<string, Float64Array>).get(
        probeNames.probe,
      ) as Float64Array
      const result = differences(
        probe.probe,
        expected.subarray(slot * width, (slot + 1) * width),
        initial.subarray(slot * width, (slot + 1) * width),
      )
      worst = Math.max(worst, result.error)
      moved = Math.max(moved, result.moved)
    })
    expect(moved).toBeGreaterThan(0.02)
    expect(worst).toBeLessThan(2e-5)
  })
})
