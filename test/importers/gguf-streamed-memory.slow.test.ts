import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

import { afterAll, beforeAll, describe, expect, it } from 'vitest'

import { fileBytes, measureImport, megabyte, runTillerMeasured } from './helpers/import-peak-memory.ts'
import { syntheticConfig, writeSyntheticGguf } from './helpers/synthetic-gguf.ts'

/**
 * The memory claim of gguf-streamed-memory.test.ts at 200 MB: a 14-layer synthetic Q8_0 Llama (199 MB; 750 MB as
 * float32) imported as float32, float16 and q4 in child processes peaks at most 48 MB above the same import of the
 * 1-layer model, which has the same largest tensor (the 4096 × 1024 embedding).
 */
describe('streamed import memory at 200 MB', () => {
  let folder = ''
  beforeAll(async () => {
    folder = await mkdtemp(join(tmpdir(), 'tiller-import-memory-slow-'))
    writeSyntheticGguf(join(folder, 'small.gguf'), syntheticConfig(1))
    writeSyntheticGguf(join(folder, 'large.gguf'), syntheticConfig(14))
    expect(runTillerMeasured(['--help'], join(folder, 'help.json')).status).toBe(0)
  })
  afterAll(async () => {
    if (folder !== '') await rm(folder, { recursive: true, force: true })
  })

  for (const dtype of ['float32', 'float16', 'q4']) {
    it(`${dtype}: peak memory grows by less than 48 MB from a 23 MB to a 199 MB GGUF`, () => {
      const usage = (name: string): string => join(folder, `${name}-${dtype}.json`)
      const small = measureImport(
        join(folder, 'small.gguf'),
        join(folder, `small-${dtype}`),
        dtype,
        usage('s'),
      )
      const large = measureImport(
        join(folder, 'large.gguf'),
        join(folder, `large-${dtype}`),
        dtype,
        usage('l'),
      )
      expect(small.status, small.stderr).toBe(0)
      expect(large.status, large.stderr).toBe(0)
      expect(fileBytes(join(folder, 'large.gguf'))).toBeGreaterThan(195 * megabyte)
      const growthMegabytes = Math.round((large.maxRssBytes - small.maxRssBytes) / megabyte)
      expect({ dtype, growthMegabytes }).toSatisfy(
        (result: { growthMegabytes: number }) => result.growthMegabytes < 48,
      )
    })
  }
})
