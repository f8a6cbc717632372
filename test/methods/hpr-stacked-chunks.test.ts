/**
 * The stacked angle networks' weight chunks (stacked-angle-layout.ts): the layout round-trips every layer's network
 * exactly, and training or evaluating with the weights cut into many chunks gives what one tensor per weight gives
 * (the chunks change only which products run over which block, never a value beyond float32 rounding of the split
 * sums).
 */
import * as ort from 'onnxruntime-node'
import { describe, expect, it } from 'vitest'
import { FusedAdamW } from '../../src/main/core/methods/hpr/fused-adamw.ts'
import { openSession } from '../../src/main/core/methods/hpr/graph-session.ts'
import { initialAngleValues } from '../../src/main/core/methods/hpr/initialization.ts'
import { optimizerBindings } from '../../src/main/core/methods/hpr/train-angles.ts'
import {
  buildStackedAngleEvaluationGraph,
  buildStackedAngleGradientGraph,
} from '../../src/main/core/methods/hpr/stacked-angle-graph.ts'
import {
  stackAngleNetworks,
  stackedAngleNames,
  stackedAngleParameters,
  unstackAngleNetwork,
  type AngleNetworkValues,
} from '../../src/main/core/methods/hpr/stacked-angle-layout.ts'
import { paperAdamW } from '../../src/main/core/methods/hpr/training-settings.ts'
import { angleWidths } from '../../src/main/core/methods/hpr/training.ts'
import { createRandom } from '../../src/main/core/random-streams.ts'

const width = 20
const widths = angleWidths(width)
const layers = 3
// Linear 0 has rows of 3 · 20 elements: 70 elements make chunks of one row, so its 10 rows become 10 chunks;
// Linear 1 (rows of 30) gets chunks of two rows, one of them uneven (5 rows: 3 + 2).
const smallChunks = 70
const random = createRandom(17)
const normals = (count: number): Float32Array => Float32Array.from({ length: count }, () => random.normal())
const networks: AngleNetworkValues[] = [4, 7, 9].map((layer) => initialAngleValues(layer, widths, 3))

describe('HPR stacked angle weights in chunks', () => {
  it('cuts each weight into near-equal row blocks that cover its rows once', () => {
    const tensors = stackedAngleParameters(layers, widths, smallChunks)
    for (let linear = 0; linear + 1 < widths.length; linear++) {
      const chunks = tensors.filter((tensor) => tensor.linear === linear && tensor.kind === 'weight')
      const rows = chunks.map((chunk) => chunk.rows)
      expect(rows.reduce((total, count) => total + count, 0)).toBe(widths[linear + 1])
      expect(Math.max(...rows) - Math.min(...rows)).toBeLessThanOrEqual(1)
      chunks.forEach((chunk, index) => {
        expect(chunk.firstRow).toBe(rows.slice(0, index).reduce((total, count) => total + count, 0))
        expect(chunk.dims).toEqual([layers, chunk.rows, widths[linear]])
      })
    }
    expect(tensors.filter((tensor) => tensor.linear === 0 && tensor.kind === 'weight')).toHaveLength(10)
    expect(
      tensors
        .filter((tensor) => tensor.linear === 1 && tensor.kind === 'weight')
        .map((tensor) => tensor.rows),
    ).toEqual([2, 2, 1])
    expect(stackedAngleParameters(layers, widths, Infinity)).toHaveLength(2 * (widths.length - 1))
  })

  it('round-trips every layer network through the stacked layout exactly', () => {
    for (const chunkElements of [smallChunks, Infinity]) {
      const stacked = stackAngleNetworks(networks, widths, chunkElements)
      networks.forEach((network, slot) => {
        const back = unstackAngleNetwork(stacked, slot, widths)
        expect(back.weights).toEqual(network.weights)
        expect(back.biases).toEqual(network.biases)
      })
    }
  })

  it('trains and evaluates the same networks in many chunks as in one tensor per weight', async () => {
    const steps = 3
    const rows = 10
    const batches = Array.from({ length: steps }, () => ({
      [stackedAngleNames.input]: new ort.Tensor('float32', normals(layers * rows * width), [
        layers,
        rows,
        width,
      ]),
      [stackedAngleNames.target]: new ort.Tensor(
        'float32',
        Float32Array.from({ length: layers * rows }, () => random.float() * 3),
        [layers, rows],
      ),
      [stackedAngleNames.weight]: new ort.Tensor(
        'float32',
        new Float32Array(layers * rows).fill(1 / (rows * layers)),
        [layers, rows],
      ),
    }))
    const rates = [0.01, 0.02, 0.015]
    const evaluationInput = new ort.Tensor('float32', normals(layers * rows * width), [layers, rows, width])
    const train = async (chunkElements: number) => {
      const session = await openSession(
        buildStackedAngleGradientGraph({ layers, widths, floatType: 'float32', chunkElements }),
        1,
      )
      const optimizer = new FusedAdamW(stackAngleNetworks(networks, widths, chunkElements), paperAdamW)
      const losses: number[] = []
      const bindings = optimizerBindings(optimizer)
      for (const [step, batch] of batches.entries()) {
        const outputs = await session.run({ ...batch, ...bindings.parameters }, bindings.fetches)
        losses.push(Number((outputs[stackedAngleNames.loss]?.data as Float32Array)[0]))
        optimizer.step(rates[step] as number)
      }
      await session.release()
      const evaluator = await openSession(buildStackedAngleEvaluationGraph(layers, widths, chunkElements), 1)
      const feeds: Record<string, ort.Tensor> = { [stackedAngleNames.input]: evaluationInput }
      for (const [name, parameter] of optimizer.parameters)
        feeds[name] = new ort.Tensor('float32', parameter.values, parameter.dims)
      const angles = (await evaluator.run(feeds))[stackedAngleNames.angle]?.data as Float32Array
      await evaluator.release()
      const trained = networks.map((_, slot) => unstackAngleNetwork(optimizer.parameters, slot, widths))
      return { losses, angles, trained }
    }
    const whole = await train(Infinity)
    const chunked = await train(smallChunks)
    chunked.losses.forEach((loss, step) => expect(loss).toBeCloseTo(whole.losses[step] as number, 6))
    let worst = 0
    let moved = 0
    whole.trained.forEach((network, slot) => {
      const other = chunked.trained[slot] as AngleNetworkValues
      const start = networks[slot] as AngleNetworkValues
      ;[...network.weights, ...network.biases].forEach((values, index) => {
        const counterpart = [...other.weights, ...other.biases][index] as Float32Array
        const initial = [...start.weights, ...start.biases][index] as Float32Array
        values.forEach((value, position) => {
          worst = Math.max(worst, Math.abs(value - (counterpart[position] as number)))
          moved = Math.max(moved, Math.abs(value - (initial[position] as number)))
        })
      })
    })
    // Three AdamW steps at these rates move weights by about 0.04; the two paths differ by float32 rounding.
    expect(moved).toBeGreaterThan(0.02)
    expect(worst).toBeLessThan(1e-6)
    chunked.angles.forEach((angle, index) => expect(angle).toBeCloseTo(whole.angles[index] as number, 6))
  })
})
