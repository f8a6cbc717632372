/**
 * `npm run bench -- dequantize [--elements N] [--repeats R]`: block dequantization throughput per GGML type, on
 * N elements (default 2^22) of random block bytes (every byte pattern is a valid block; throughput does not
 * depend on the values). Prints, per type, GGUF megabytes read per second, million float32 values written per
 * second, and the time relative to copying the same number of float32 values; median over R runs (default 5).
 * Nothing is asserted.
 */
import { parseArgs } from 'node:util'

import { ggmlTypeLayout, ggmlTypeName } from '../../src/main/core/gguf/ggml-types.ts'
import { blockDequantizer } from '../../src/main/core/models/importers/gguf/dequantize.ts'
import { median } from './support/timing.ts'

/** Deterministic pseudo-random bytes. */
function randomBytes(length: number, seed: number): Uint8Array {
  const bytes = new Uint8Array(length)
  let state = seed >>> 0
  for (let index = 0; index < length; index++) {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0
    bytes[index] = state >>> 24
  }
  return bytes
}

function timeMilliseconds(run: () => void): number {
  const start = performance.now()
  run()
  return performance.now() - start
}

export async function run(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      elements: { type: 'string', default: String(2 ** 22) },
      repeats: { type: 'string', default: '5' },
    },
  })
  const elements = Number(values.elements)
  const repeats = Number(values.repeats)
  if (!Number.isInteger(elements) || elements <= 0 || elements % 256 !== 0) {
    throw new Error(`--elements must be a positive multiple of 256, got ${values.elements}`)
  }
  const output = new Float32Array(elements)
  const source = Float32Array.from(randomBytes(elements, 1))
  const copyMilliseconds = median(
    Array.from({ length: repeats }, () => timeMilliseconds(() => output.set(source))),
  )
  const rows: string[] = []
  for (let type = 0; type < 64; type++) {
    const dequantize = blockDequantizer(type)
    const layout = ggmlTypeLayout(type)
    if (dequantize === undefined || layout === undefined) continue
    const bytes = randomBytes((elements / layout.blockSize) * layout.bytesPerBlock, type + 2)
    dequantize(bytes, elements, output) // warm up the JIT
    const milliseconds = median(
      Array.from({ length: repeats }, () => timeMilliseconds(() => dequantize(bytes, elements, output))),
    )
    rows.push(
      `${ggmlTypeName(type).padEnd(7)} ${(bytes.length / 1e3 / milliseconds).toFixed(0).padStart(7)} MB/s in ` +
        `${(elements / 1e3 / milliseconds).toFixed(0).padStart(6)} M values/s out  ` +
        `${(milliseconds / copyMilliseconds).toFixed(1).padStart(5)}x a float32 copy`,
    )
  }
  process.stdout.write(
    `Dequantizing ${elements} elements (median of ${repeats}; a float32 copy takes ${copyMilliseconds.toFixed(2)} ms):\n` +
      `${rows.join('\n')}\n`,
  )
  return Promise.resolve()
}
