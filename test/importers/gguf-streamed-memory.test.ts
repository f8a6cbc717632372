import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

import { afterAll, beforeAll, describe, expect, it } from 'vitest'

import { fileBytes, measureImport, megabyte, runTillerMeasured } from './helpers/import-peak-memory.ts'
import { syntheticConfig, writeSyntheticGguf } from './helpers/synthetic-gguf.ts'

/**
 * `tiller import` streams: its peak memory follows the largest tensor, not the model. A 1-layer and a 5-layer
 * synthetic Q8_0 Llama (hidden 1024, MLP 2816, vocabulary 4096: 23 MB and 77 MB files) share their largest tensor,
 * the 4096 × 1024 embedding (17 MB as float32), and are imported as float32 in child processes. The 5-layer
 * import writes 290 MB of float32 weights, about 220 MB more than the 1-layer one, which an import holding the
 * model would add to its peak (before streaming, a 132 MB file's float32 import peaked at 838 MB against 173 MB
 * now). Its peak resident memory may exceed the 1-layer import's by at most 48 MB, well under the 77 MB file:
 * that leaves room for the garbage collector's slack. Measured on the development machine: +1 MB (159.5 →
 * 160.6 MB). gguf-streamed-memory.slow.test.ts does the same at 200 MB in three dtypes.
 */
describe('streamed import memory', () => {
  let folder = ''
  beforeAll(async () => {
    folder = await mkdtemp(join(tmpdir(), 'tiller-import-memory-'))
    writeSyntheticGguf(join(folder, 'small.gguf'), syntheticConfig(1))
    writeSyntheticGguf(join(folder, 'large.gguf'), syntheticConfig(5))
    // One layer with a 32768-word vocabulary: embedding and classifier 32768 × 1024 (134 MB each as float32).
    writeSyntheticGguf(join(folder, 'wide.gguf'), syntheticConfig(1, 32768))
    // Compile the CLI now if it is stale, so that neither measured run includes the build.
    expect(runTillerMeasured(['--help'], join(folder, 'help.json')).status).toBe(0)
  })
  afterAll(async () => {
    if (folder !== '') await rm(folder, { recursive: true, force: true })
  })

  it('peak memory of a float32 import grows by less than 48 MB from a 23 MB to a 77 MB GGUF', () => {
    const small = measureImport(
      join(folder, 'small.gguf'),
      join(folder, 'small'),
      'float32',
      join(folder, 's.json'),
    )
    const large = measureImport(
      join(folder, 'large.gguf'),
      join(folder, 'large'),
      'float32',
      join(folder, 'l.json'),
    )
    expect(small.status, small.stderr).toBe(0)
    expect(large.status, large.stderr).toBe(0)
    const fileSize = fileBytes(join(folder, 'large.gguf'))
    const written = fileBytes(join(folder, 'large', 'onnx', 'model.onnx_data'))
    expect(fileSize).toBeGreaterThan(75 * megabyte)
    // The float32 graph holds every weight dequantized: about 3.8 times the Q8_0 file.
    expect(written).toBeGreaterThan(3.5 * fileSize)
    const growth = large.maxRssBytes - small.maxRssBytes
    expect({ growthMegabytes: Math.round(growth / megabyte), boundMegabytes: 48 }).toSatisfy(
      (result: { growthMegabytes: number; boundMegabytes: number }) =>
        result.growthMegabytes < result.boundMegabytes,
    )
    // Progress went to standard error, one line per tenth of the weights (a pipe is not a terminal).
    const progress = large.stderr.split('\n').filter((line) => line.startsWith('Writing weights: tensor'))
    expect(progress.length).toBeGreaterThanOrEqual(10)
    expect(progress.at(-1)).toMatch(/^Writing weights: tensor (\d+)\/\1 \(.+\), [\d.]+ MB written$/)
  })

  /**
   * Matrices are read a band of rows at a time (weight-pass.ts): a q4 import streams the float32 embedding and the
   * classifier's 4-bit quants to the data file band by band, so its peak follows the band, not the largest tensor.
   * From a 4096- to a 32768-word vocabulary the largest tensor grows by 117 MB as float32 (to 134 MB); an import
   * that held it whole, as float32 plus its quantized copies, would add about three times that (before bands, a
   * q4 import peaked at about three times its largest float32 tensor). The peak may grow by at most 48 MB.
   */
  it('peak memory of a q4 import grows by less than 48 MB when the largest tensor grows by 117 MB', () => {
    const small = measureImport(
      join(folder, 'small.gguf'),
      join(folder, 'small-q4'),
      'q4',
      join(folder, 'sq.json'),
    )
    const wide = measureImport(
      join(folder, 'wide.gguf'),
      join(folder, 'wide-q4'),
      'q4',
      join(folder, 'wq.json'),
    )
    expect(small.status, small.stderr).toBe(0)
    expect(wide.status, wide.stderr).toBe(0)
    const growth = wide.maxRssBytes - small.maxRssBytes
    expect({ growthMegabytes: Math.round(growth / megabyte), boundMegabytes: 48 }).toSatisfy(
      (result: { growthMegabytes: number; boundMegabytes: number }) =>
        result.growthMegabytes < result.boundMegabytes,
    )
  })
})
