import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

import { afterAll, beforeAll, describe, expect, it } from 'vitest'

import { writeGgufFile } from '../../src/main/core/gguf/writer.ts'
import type { LlamaConfig } from '../../src/main/core/models/checkpoint.ts'
import { randomCheckpoint } from '../../src/main/core/models/random-checkpoint.ts'
import { hookSites } from '../../src/shared/edit.ts'
import { runTiller } from '../helpers/cli.ts'
import { familyCheckpointToGguf } from './helpers/family-gguf.ts'

/** `tiller import gguf` on a Phi-3 file (fused tensors, sliding window): a Hugging Face phi3 folder, every site found. */

const config: LlamaConfig = {
  vocabSize: 300,
  hiddenSize: 32,
  intermediateSize: 64,
  numLayers: 2,
  numHeads: 4,
  numKeyValueHeads: 2,
  headDim: 8,
  rmsNormEps: 1e-6,
  ropeTheta: 10000,
  maxPositionEmbeddings: 64,
  tieWordEmbeddings: false,
  bosTokenId: 1,
  eosTokenId: 2,
  architecture: 'phi3',
  slidingWindow: 5,
}

describe('tiller import gguf on a phi3 file', () => {
  let folder = ''
  beforeAll(async () => {
    folder = await mkdtemp(join(tmpdir(), 'tiller-gguf-family-cli-'))
  })
  afterAll(async () => {
    if (folder !== '') await rm(folder, { recursive: true, force: true })
  })

  it('writes a phi3 config.json and `tiller inspect` finds every site', async () => {
    const path = join(folder, 'phi3.gguf')
    await writeGgufFile(path, familyCheckpointToGguf(randomCheckpoint(config, 3), 'phi3'))
    const out = join(folder, 'phi3-model')
    const imported = await runTiller(['import', 'gguf', path, '--out', out, '--graph', 'optimum'])
    expect(imported.code, imported.output).toBe(0)
    expect(imported.stdout).toContain('(phi3, 2 layers, hidden 32')
    const written = JSON.parse(await readFile(join(out, 'config.json'), 'utf8')) as Record<string, unknown>
    expect(written).toMatchObject({
      architectures: ['Phi3ForCausalLM'],
      model_type: 'phi3',
      sliding_window: 5,
      attention_bias: false,
    })
    const inspected = await runTiller(['inspect', '--model', out, '--json'])
    expect(inspected.code, inspected.output).toBe(0)
    const printed = JSON.parse(inspected.stdout) as { layers: Array<{ sites: Record<string, unknown> }> }
    expect(printed.layers).toHaveLength(2)
    for (const layer of printed.layers) expect(Object.keys(layer.sites).sort()).toEqual([...hookSites].sort())
  })
})
