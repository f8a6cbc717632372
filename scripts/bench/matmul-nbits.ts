/**
 * `npm run bench -- matmul-nbits [--repeats R] [--threads T]`: one decode step's linear layer (a 768 → 2048
 * MatMulNBits, block 32, one activation row) in every form Tiller's exporter can write, against a float32 MatMul
 * of the same weights: 4 and 8 bits, integer (uint8) or float zero points, float compute (accuracy_level 0) or int8
 * compute (4). ONNX Runtime 1.30's CPU kernel takes float zero points only on its unpacked path, which ignores int8
 * compute and refuses 8 bits; such a form is reported as refused. Prints each form's median milliseconds per run,
 * its ratio to float32, and its largest output difference to the float64 product of its own dequantized weights.
 */
import { parseArgs } from 'node:util'
import * as ort from 'onnxruntime-node'
import { GraphBuilder } from '../../src/main/core/onnx/builder.ts'
import { encodeModel } from '../../src/main/core/onnx/proto.ts'
import {
  dequantizeLinearWeight,
  quantizeLinearWeight,
  type MatMulNBitsWeight,
} from '../../src/main/core/models/exporter/quantize-blocks.ts'
import { median } from './support/timing.ts'

const inputs = 768
const outputs = 2048

/** Deterministic values in [-scale, scale). */
function values(length: number, seed: number, scale: number): Float32Array {
  let state = seed >>> 0 || 1
  return Float32Array.from({ length }, () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0
    return (state / 2 ** 31 - 1) * scale
  })
}

/** The same weight with its uint8 zero points written as float32 `[outputs · blocks]`. */
function withFloatZeroPoints(weight: MatMulNBitsWeight): MatMulNBitsWeight {
  const blocksPerRow = weight.columns / 32
  const bytesPerRow = weight.bits === 8 ? blocksPerRow : Math.ceil(blocksPerRow / 2)
  const packed = weight.zeroPoints as Uint8Array
  const zeros = new Float32Array(weight.rows * blocksPerRow)
  for (let row = 0; row < weight.rows; row++) {
    for (let block = 0; block < blocksPerRow; block++) {
      const byte = packed[row * bytesPerRow + (weight.bits === 8 ? block : block >> 1)] as number
      const zero = weight.bits === 8 ? byte : block & 1 ? byte >> 4 : byte & 0x0f
      zeros[row * blocksPerRow + block] = zero
    }
  }
  return { ...weight, zeroPoints: zeros }
}

function matMulNBitsSession(weight: MatMulNBitsWeight, level: number, threads: number) {
  const graph = new GraphBuilder({ opsets: { '': 17, 'com.microsoft': 1 } })
  graph.input('x', 'float32', [1, inputs])
  graph.output('y', 'float32', [1, outputs])
  const blocks = (outputs * inputs) / 32
  const zeroPoints =
    weight.zeroPoints instanceof Float32Array
      ? graph.initializer('zero_points', 'float32', [blocks], weight.zeroPoints)
      : graph.initializer('zero_points', 'uint8', [weight.zeroPoints.length], weight.zeroPoints)
  graph.node({
    op: 'MatMulNBits',
    domain: 'com.microsoft',
    name: 'linear',
    inputs: [
      'x',
      graph.initializer('weight', 'uint8', [outputs, inputs / 32, (32 * weight.bits) / 8], weight.packed),
      graph.initializer('scales', 'float32', [blocks], weight.scales),
      zeroPoints,
    ],
    outputs: ['y'],
    attributes: { K: inputs, N: outputs, bits: weight.bits, block_size: 32, accuracy_level: level },
  })
  // Refusals are reported on one line below; ONNX Runtime's own log of them (severity error) is left out.
  return ort.InferenceSession.create(encodeModel(graph.toModel()), {
    intraOpNumThreads: threads,
    logSeverityLevel: 4,
  })
}

function floatSession(weights: Float32Array, threads: number) {
  const graph = new GraphBuilder({ opsets: { '': 17 } })
  graph.input('x', 'float32', [1, inputs])
  graph.output('y', 'float32', [1, outputs])
  // HF `[outputs, inputs]` → MatMul's `[inputs, outputs]`.
  const transposed = new Float32Array(weights.length)
  for (let row = 0; row < outputs; row++) {
    for (let column = 0; column < inputs; column++)
      transposed[column * outputs + row] = weights[row * inputs + column] as number
  }
  graph.node({
    op: 'MatMul',
    name: 'linear',
    inputs: ['x', graph.initializer('weight', 'float32', [inputs, outputs], transposed)],
    outputs: ['y'],
  })
  return ort.InferenceSession.create(encodeModel(graph.toModel()), { intraOpNumThreads: threads })
}

/** Median milliseconds of `repeats` runs, or the error message when the session refuses to run. */
async function timed(
  session: ort.InferenceSession,
  feeds: Record<string, ort.Tensor>,
  repeats: number,
): Promise<{ milliseconds: number; output: Float32Array } | string> {
  let output: Float32Array
  try {
    output = (await session.run(feeds))['y']?.data as Float32Array
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error)
    return /was false\. (.*)$/m.exec(message)?.[1] ?? message.split('\n')[0] ?? 'refused'
  }
  const times: number[] = []
  for (let repeat = 0; repeat < repeats; repeat++) {
    const start = performance.now()
    await session.run(feeds)
    times.push(performance.now() - start)
  }
  return { milliseconds: median(times), output }
}

/** Largest |output − float64 product| over the outputs. */
function largestGap(output: Float32Array, weights: Float32Array, input: Float32Array): number {
  let worst = 0
  for (let row = 0; row < outputs; row++) {
    let sum = 0
    for (let column = 0; column < inputs; column++)
      sum += (weights[row * inputs + column] as number) * (input[column] as number)
    worst = Math.max(worst, Math.abs((output[row] as number) - sum))
  }
  return worst
}

/** Runs the comparison with command-line `args`. */
export async function run(args: string[]): Promise<void> {
  const { values: flags } = parseArgs({
    args,
    options: { repeats: { type: 'string', default: '200' }, threads: { type: 'string', default: '1' } },
  })
  const repeats = Number(flags.repeats)
  const threads = Number(flags.threads)
  const weights = values(outputs * inputs, 3, 0.05)
  const input = values(inputs, 9, 1)
  const feeds = { x: new ort.Tensor('float32', input, [1, inputs]) }
  process.stdout.write(
    `MatMulNBits ${inputs} → ${outputs}, one row, ${threads} thread(s), median of ${repeats} runs\n`,
  )
  const reference = await timed(await floatSession(weights, threads), feeds, repeats)
  if (typeof reference === 'string') throw new Error(`float32 MatMul failed: ${reference}`)
  process.stdout.write(`  float32 MatMul                        ${reference.milliseconds.toFixed(3)} ms\n`)
  for (const bits of [4, 8] as const) {
    const integer = quantizeLinearWeight(
      { dtype: 'float32', shape: [outputs, inputs], data: weights },
      bits,
      false,
    )
    for (const [zeros, weight] of [
      ['uint8', integer],
      ['float', withFloatZeroPoints(integer)],
    ] as const) {
      for (const [compute, level] of [
        ['float', 0],
        ['int8', 4],
      ] as const) {
        const label = `${bits}-bit, ${zeros} zero points, ${compute} compute`.padEnd(37)
        const result = await timed(await matMulNBitsSession(weight, level, threads), feeds, repeats)
        if (typeof result === 'string') {
          process.stdout.write(`  ${label} refused: ${result}\n`)
          continue
        }
        const gap = largestGap(result.output, dequantizeLinearWeight(weight), input)
        process.stdout.write(
          `  ${label} ${result.milliseconds.toFixed(3)} ms, ÷ float32 time ${(result.milliseconds / reference.milliseconds).toFixed(2)}×, ` +
            `largest gap to its weights ${gap.toExponential(2)}\n`,
        )
      }
    }
  }
}
