/**
 * Memory bandwidth yardsticks for decode figures: a decode step of a float32 model reads every weight once, so
 * weight bytes × tokens/s is the bandwidth it achieves; ONNX Runtime's own ReduceSum over a large float tensor,
 * measured in the same run, is what the machine's memory delivers to ONNX Runtime right now.
 */
import { readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'
import * as ort from 'onnxruntime-node'
import { GraphBuilder } from '../../../src/main/core/onnx/builder.ts'
import { encodeModel } from '../../../src/main/core/onnx/proto.ts'
import { sessionOptions } from '../../../src/main/core/runtime/session.ts'
import { median } from './timing.ts'

/** Bytes of a model folder's graph and weights (every file under `onnx/`). */
export function weightBytes(folder: string): number {
  const graphs = join(folder, 'onnx')
  return readdirSync(graphs).reduce((total, file) => total + statSync(join(graphs, file)).size, 0)
}

/** `x` float32 `[rows, 1024]` → Σ over axis 1, `[rows]`: reads the whole input, writes 1/1024 of it. */
function reductionGraph(): Uint8Array {
  const builder = new GraphBuilder({ name: 'read_bandwidth', opsets: { '': 17 } })
  builder.input('x', 'float32', ['rows', 1024])
  builder.initializer('axes', 'int64', [1], BigInt64Array.of(1n))
  builder.node({
    op: 'ReduceSum',
    name: 'sum',
    inputs: ['x', 'axes'],
    outputs: ['sum'],
    attributes: { keepdims: 0 },
  })
  builder.output('sum', 'float32', ['rows'])
  return encodeModel(builder.toModel())
}

/**
 * GB/s ONNX Runtime reads when summing a `megabytes` float32 tensor (median of `repeats` runs after one warm-up),
 * with `threads` intra-op threads.
 */
export async function reductionReadBandwidth(
  megabytes = 256,
  repeats = 7,
  threads?: number,
): Promise<number> {
  const rows = Math.floor((megabytes * 1024 * 1024) / 4 / 1024)
  const data = new Float32Array(rows * 1024)
  for (let index = 0; index < data.length; index += 1024) data[index] = 1
  const session = await ort.InferenceSession.create(reductionGraph(), {
    ...sessionOptions('cpu'),
    ...(threads === undefined ? {} : { intraOpNumThreads: threads }),
  })
  try {
    const feeds = { x: new ort.Tensor('float32', data, [rows, 1024]) }
    await session.run(feeds)
    const times: number[] = []
    for (let repeat = 0; repeat < repeats; repeat++) {
      const start = performance.now()
      await session.run(feeds)
      times.push(performance.now() - start)
    }
    return data.byteLength / (median(times) / 1000) / 1e9
  } finally {
    await session.release()
  }
}
