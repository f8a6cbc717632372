/**
 * HPR's hand-derived backward passes against central finite differences in float64, the float32 graphs against
 * the float64 reference, and the in-graph AdamW update against a direct computation.
 */
import * as ort from 'onnxruntime-node'
import { describe, expect, it } from 'vitest'
import {
  angleNames,
  angleParameters,
  buildAngleTrainingGraph,
} from '../../src/main/core/methods/hpr/angle-graph.ts'
import {
  GraphOptimizer,
  openSession,
  type GraphParameter,
} from '../../src/main/core/methods/hpr/graph-session.ts'
import {
  buildProbeTrainingGraph,
  gradientOutput,
  probeNames,
} from '../../src/main/core/methods/hpr/probe-graph.ts'
import { initialAngleNetwork } from '../../src/main/core/methods/hpr/initialization.ts'
import { paperAdamW } from '../../src/main/core/methods/hpr/training-settings.ts'
import { angleWidths } from '../../src/main/core/methods/hpr/training.ts'
import { createRandom } from '../../src/main/core/random-streams.ts'
import { predictedAngle } from '../helpers/householder-reference.ts'

const random = createRandom(11)
const step = 1e-6

function normals(size: number, scale = 1): Float64Array {
  return Float64Array.from({ length: size }, () => random.normal() * scale)
}

type Feeds = Record<string, Float64Array>

async function lossAndGradients(
  session: ort.InferenceSession,
  feeds: Feeds,
  dims: Record<string, number[]>,
): Promise<{ loss: number; outputs: ort.InferenceSession.OnnxValueMapType }> {
  const tensors: Record<string, ort.Tensor> = {}
  for (const [name, values] of Object.entries(feeds))
    tensors[name] = new ort.Tensor('float64', values, dims[name])
  const outputs = await session.run(tensors)
  return { loss: Number((outputs.loss?.data as Float64Array)[0]), outputs }
}

/** Compare every element of each parameter's analytic gradient with a central difference of the graph's loss. */
async function checkGradients(
  session: ort.InferenceSession,
  feeds: Feeds,
  dims: Record<string, number[]>,
  parameters: string[],
): Promise<number> {
  const { outputs } = await lossAndGradients(session, feeds, dims)
  let worst = 0
  for (const name of parameters) {
    const analytic = outputs[gradientOutput(name)]?.data as Float64Array
    const values = feeds[name] as Float64Array
    expect(analytic.length).toBe(values.length)
    for (let index = 0; index < values.length; index++) {
      const original = values[index] as number
      values[index] = original + step
      const up = (await lossAndGradients(session, feeds, dims)).loss
      values[index] = original - step
      const down = (await lossAndGradients(session, feeds, dims)).loss
      values[index] = original
      const numeric = (up - down) / (2 * step)
      const error = Math.abs(numeric - (analytic[index] as number)) / Math.max(1e-3, Math.abs(numeric))
      worst = Math.max(worst, error)
    }
  }
  return worst
}

describe('HPR training graphs', () => {
  it('probe gradients match central differences in float64', async () => {
    const [layers, batch, width] = [2, 3, 5]
    const session = await openSession(
      buildProbeTrainingGraph({ layers, width, floatType: 'float64', mode: 'gradients', adamW: paperAdamW }),
      1,
      'float64',
    )
    const weights = Float64Array.from({ length: layers * batch }, (_, index) =>
      index === 4 ? 0 : 1 / (2 * 2 * layers),
    )
    const feeds: Feeds = {
      [probeNames.positive]: normals(layers * batch * width),
      [probeNames.negative]: normals(layers * batch * width),
      [probeNames.pairWeights]: weights,
      [probeNames.probe]: normals(layers * width),
    }
    const dims = {
      [probeNames.positive]: [layers, batch, width],
      [probeNames.negative]: [layers, batch, width],
      [probeNames.pairWeights]: [layers, batch],
      [probeNames.probe]: [layers, width],
    }
    const worst = await checkGradients(session, feeds, dims, [probeNames.probe])
    expect(worst).toBeLessThan(1e-7)
    await session.release()
  })

  it('angle-network gradients match central differences in float64', async () => {
    const [layers, rows] = [2, 4]
    const widths = angleWidths(8)
    expect(widths).toEqual([8, 4, 2, 1, 1])
    const session = await openSession(
      buildAngleTrainingGraph({ layers, widths, floatType: 'float64', mode: 'gradients', adamW: paperAdamW }),
      1,
      'float64',
    )
    const feeds: Feeds = {}
    const dims: Record<string, number[]> = {}
    const parameters: string[] = []
    for (let slot = 0; slot < layers; slot++) {
      feeds[angleNames.input(slot)] = normals(rows * 8)
      dims[angleNames.input(slot)] = [rows, 8]
      feeds[angleNames.target(slot)] = Float64Array.from({ length: rows }, () => random.float() * Math.PI)
      dims[angleNames.target(slot)] = [rows]
      feeds[angleNames.weight(slot)] = Float64Array.from({ length: rows }, (_, row) =>
        row === 1 ? 0 : 1 / 6,
      )
      dims[angleNames.weight(slot)] = [rows]
      for (const [name, shape] of angleParameters(slot, widths)) {
        const fanIn = shape.length === 2 ? (shape[1] as number) : 1
        feeds[name] = normals(
          shape.reduce((a, b) => a * b, 1),
          1 / Math.sqrt(fanIn),
        )
        dims[name] = shape
        parameters.push(name)
      }
    }
    const worst = await checkGradients(session, feeds, dims, parameters)
    expect(worst).toBeLessThan(1e-6)
    await session.release()
  })

  it('float32 (ONNX Erf) and float64 (series) angle graphs agree with the float64 reference', async () => {
    const widths = angleWidths(16)
    const rows = 6
    const input = normals(rows * 16, 2)
    const target = new Float64Array(rows)
    const weight = new Float64Array(rows).fill(1 / rows)
    const parameters = angleParameters(0, widths).map(([name, shape]) => {
      const fanIn = shape.length === 2 ? (shape[1] as number) : 4
      return [
        name,
        shape,
        normals(
          shape.reduce((a, b) => a * b, 1),
          2 / Math.sqrt(fanIn),
        ),
      ] as const
    })
    const weights = parameters.filter(([name]) => name.includes('weight')).map(([, , values]) => values)
    const biases = parameters.filter(([name]) => name.includes('bias')).map(([, , values]) => values)
    let expected = 0
    for (let row = 0; row < rows; row++) {
      expected +=
        predictedAngle(input.subarray(row * 16, (row + 1) * 16), widths, weights, biases) ** 2 / rows
    }
    for (const floatType of ['float64', 'float32'] as const) {
      const session = await openSession(
        buildAngleTrainingGraph({ layers: 1, widths, floatType, mode: 'gradients', adamW: paperAdamW }),
        1,
        floatType,
      )
      const convert = (values: Float64Array) => (floatType === 'float32' ? Float32Array.from(values) : values)
      const feeds: Record<string, ort.Tensor> = {
        [angleNames.input(0)]: new ort.Tensor(floatType, convert(input), [rows, 16]),
        [angleNames.target(0)]: new ort.Tensor(floatType, convert(target), [rows]),
        [angleNames.weight(0)]: new ort.Tensor(floatType, convert(weight), [rows]),
      }
      for (const [name, shape, values] of parameters)
        feeds[name] = new ort.Tensor(floatType, convert(values), shape)
      const loss = Number((await session.run(feeds)).loss?.data[0])
      expect(Math.abs(loss - expected) / expected).toBeLessThan(floatType === 'float64' ? 1e-12 : 1e-5)
      await session.release()
    }
  })

  it('updates parameters in the graph exactly as AdamW does', async () => {
    const [layers, batch, width] = [2, 4, 6]
    const gradientSession = await openSession(
      buildProbeTrainingGraph({ layers, width, floatType: 'float32', mode: 'gradients', adamW: paperAdamW }),
      1,
    )
    const adamW = { ...paperAdamW, weightDecay: 0.1 }
    const trainSession = await openSession(
      buildProbeTrainingGraph({ layers, width, floatType: 'float32', mode: 'train', adamW }),
      1,
    )
    const initial = Float32Array.from(normals(layers * width))
    const probe: GraphParameter = { values: initial.slice(), dims: [layers, width] }
    const optimizer = new GraphOptimizer(trainSession, new Map([[probeNames.probe, probe]]), adamW)
    const expected = Float64Array.from(initial)
    const first = new Float64Array(initial.length)
    const second = new Float64Array(initial.length)
    for (let index = 1; index <= 3; index++) {
      const batchFeeds = {
        [probeNames.positive]: new ort.Tensor('float32', Float32Array.from(normals(layers * batch * width)), [
          layers,
          batch,
          width,
        ]),
        [probeNames.negative]: new ort.Tensor('float32', Float32Array.from(normals(layers * batch * width)), [
          layers,
          batch,
          width,
        ]),
        [probeNames.pairWeights]: new ort.Tensor('float32', new Float32Array(layers * batch).fill(1 / 16), [
          layers,
          batch,
        ]),
      }
      const gradient = (
        await gradientSession.run({
          ...batchFeeds,
          [probeNames.probe]: new ort.Tensor('float32', Float32Array.from(expected), [layers, width]),
        })
      )[gradientOutput(probeNames.probe)]?.data as Float32Array
      const rate = 0.01 * index
      for (let position = 0; position < expected.length; position++) {
        const g = gradient[position] as number
        first[position] = 0.9 * (first[position] as number) + 0.1 * g
        second[position] = 0.999 * (second[position] as number) + 0.001 * g * g
        const update =
          (first[position] as number) /
          (1 - 0.9 ** index) /
          (Math.sqrt((second[position] as number) / (1 - 0.999 ** index)) + 1e-8)
        expected[position] = (expected[position] as number) * (1 - rate * 0.1) - rate * update
      }
      await optimizer.step(batchFeeds, rate)
    }
    const trained = optimizer.parameters.get(probeNames.probe)?.values as Float32Array
    trained.forEach((value, position) => expect(value).toBeCloseTo(expected[position] as number, 5))
    expect(trained.some((value, position) => value !== initial[position])).toBe(true)
    await gradientSession.release()
    await trainSession.release()
  })

  it('takes the same steps unrolled in one graph as one step per run', async () => {
    const widths = angleWidths(16)
    const layers = 2
    const runs = 3
    const batches = Array.from({ length: runs }, (_, run) => {
      const rows = 4 + run
      const feeds: Record<string, ort.Tensor> = {}
      for (let slot = 0; slot < layers; slot++) {
        feeds[angleNames.input(slot)] = new ort.Tensor('float32', Float32Array.from(normals(rows * 16)), [
          rows,
          16,
        ])
        feeds[angleNames.target(slot)] = new ort.Tensor(
          'float32',
          Float32Array.from({ length: rows }, () => random.float() * 2),
          [rows],
        )
        feeds[angleNames.weight(slot)] = new ort.Tensor(
          'float32',
          new Float32Array(rows).fill(1 / (rows * layers)),
          [rows],
        )
      }
      return feeds
    })
    const rates = [0.01, 0.02, 0.015]
    const start = () => {
      const parameters = new Map<string, GraphParameter>()
      for (let slot = 0; slot < layers; slot++) {
        for (const [name, parameter] of initialAngleNetwork(slot, slot, widths, 9))
          parameters.set(name, parameter)
      }
      return parameters
    }
    const build = (steps: number) =>
      openSession(
        buildAngleTrainingGraph({
          layers,
          widths,
          floatType: 'float32',
          mode: 'train',
          adamW: paperAdamW,
          steps,
        }),
        1,
      )
    const single = await build(1)
    const unrolled = await build(runs)
    const oneByOne = new GraphOptimizer(single, start(), paperAdamW)
    const separateLosses: number[] = []
    for (let run = 0; run < runs; run++)
      separateLosses.push(
        await oneByOne.step(batches[run] as Record<string, ort.Tensor>, rates[run] as number),
      )
    const together = new GraphOptimizer(unrolled, start(), paperAdamW)
    const jointLosses = await together.steps(unrolled, batches, rates)
    jointLosses.forEach((loss, run) => expect(loss).toBeCloseTo(separateLosses[run] as number, 6))
    for (const [name, parameter] of oneByOne.parameters) {
      const joint = together.parameters.get(name)?.values as Float32Array
      parameter.values.forEach((value, index) => expect(joint[index]).toBeCloseTo(value, 6))
    }
    await single.release()
    await unrolled.release()
  })
})
