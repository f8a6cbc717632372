import { cp, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { readDemonstrationFile } from '../../src/main/core/data/jsonl.ts'
import type { DemonstrationSet } from '../../src/main/core/data/schema.ts'
import { loadSteeredModel, steeringInputs } from '../../src/main/core/edits/steered-generation.ts'
import { fitFromDemonstrations } from '../../src/main/core/fitting/fit-pipeline.ts'
import { organismModelDirectory } from '../../src/organism/organism-paths.ts'
import { forwardBatch } from '../../src/main/core/runtime/forward.ts'
import { loadModel, type LoadedModel } from '../../src/main/core/runtime/model.ts'

/**
 * SEA end to end on the organism: fit through the pipeline (pairs, neutral generations, spectral fit), compile,
 * and run. Strength 0 must reproduce the base logits bit for bit; strength 1 must stay finite.
 */

let scratch = ''
let model: LoadedModel
let set: DemonstrationSet

beforeAll(async () => {
  // Compiled graphs and caches are written next to the weights: a scratch copy keeps the committed folder clean.
  scratch = await mkdtemp(join(tmpdir(), 'tiller-sea-organism-'))
  await cp(organismModelDirectory, scratch, { recursive: true })
  model = await loadModel(scratch, { provider: 'cpu' })
  const full = await readDemonstrationFile('resources/datasets/truthfulness.pairs.jsonl')
  if (full.kind !== 'pairs') throw new Error('expected a pairs file')
  set = {
    ...full,
    rows: full.rows.filter((row) => row.split !== 'test' && row.split !== 'validation').slice(0, 6),
  }
})

afterAll(async () => {
  await model?.dispose()
  await rm(scratch, { recursive: true, force: true })
})

describe('SEA on the organism', () => {
  for (const method of ['sea', 'phi-sea'] as const) {
    it(`${method}: strength 0 gives the base logits exactly, strength 1 finite ones`, async () => {
      const stages = new Set<string>()
      const { edit, summary } = await fitFromDemonstrations({
        model,
        data: set,
        method,
        options: { layers: [4, 5], neutralMaxNewTokens: 12 },
        onProgress: (progress) => stages.add(progress.stage),
      })
      expect(stages).toEqual(new Set(['render', 'capture', 'neutral', 'fit']))
      expect(summary.pairs).toBe(6)
      expect(edit.interventions.map((intervention) => intervention.layer)).toEqual([4, 5])
      for (const intervention of edit.interventions) {
        if (intervention.op.kind !== 'spectral') throw new Error('expected spectral ops')
        expect(intervention.op.keepRank).toBeGreaterThan(0)
        expect(intervention.op.keepRank).toBeLessThanOrEqual(6)
        expect(intervention.op.keep.length).toBe(intervention.op.keepRank * 224)
      }

      const rows = [
        [2, 17, 40, 41, 5, 9],
        [2, 33, 12],
      ]
      const base = await forwardBatch(model, rows, { fetch: ['logits'] })
      const steered = await loadSteeredModel(scratch, [edit], { provider: 'cpu' })
      try {
        const at = async (strength: number) =>
          forwardBatch(steered.model, rows, {
            fetch: ['logits'],
            extraInputs: steeringInputs(
              steered.compiled,
              rows.map(() => strength),
            ),
          })
        const zero = (await at(0)).outputs.logits?.data as Float32Array
        expect(zero).toEqual(base.outputs.logits?.data as Float32Array)
        const one = (await at(1)).outputs.logits?.data as Float32Array
        expect(one.every(Number.isFinite)).toBe(true)
        expect(one).not.toEqual(zero)
      } finally {
        await steered.model.dispose()
      }
    })
  }
})
