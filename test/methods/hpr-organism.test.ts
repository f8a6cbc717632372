/**
 * HPR end to end on the embedded organism: a short fit (six demonstrations, one epoch) through the fit pipeline,
 * compiled into the steered graph; strength 0 reproduces the base logits bit for bit, strength 1 changes them and
 * stays finite.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  loadSteeredModel,
  steeringInputs,
  type SteeredModel,
} from '../../src/main/core/edits/steered-generation.ts'
import { fitFromDemonstrations } from '../../src/main/core/fitting/fit-pipeline.ts'
import { datasetsDirectory, organismModelDirectory } from '../../src/organism/organism-paths.ts'
import { forwardBatch } from '../../src/main/core/runtime/forward.ts'
import { loadModel, type LoadedModel } from '../../src/main/core/runtime/model.ts'
import type { Edit } from '../../src/shared/edit.ts'

const dataset = join(datasetsDirectory, 'truthfulness.pairs.jsonl')
const rows = [[2, 40, 41, 42, 43, 44, 45, 46]]

let base: LoadedModel
let steered: SteeredModel
let edit: Edit

beforeAll(async () => {
  const lines = readFileSync(dataset, 'utf8')
    .split('\n')
    .filter((line) => line.trim() !== '')
  const data = join(mkdtempSync(join(tmpdir(), 'tiller-hpr-')), 'pairs.jsonl')
  writeFileSync(data, lines.slice(0, 6).join('\n') + '\n')
  const progress: number[] = []
  const outcome = await fitFromDemonstrations({
    model: { folder: organismModelDirectory, provider: 'cpu' },
    data,
    method: 'hpr',
    options: { epochs: 1, topK: 2 },
    onProgress: (step) => progress.push(step.fraction),
  })
  edit = outcome.edit
  expect(progress.at(-1)).toBe(1)
  base = await loadModel(organismModelDirectory, { provider: 'cpu' })
  steered = await loadSteeredModel(organismModelDirectory, [edit], { provider: 'cpu' })
})

afterAll(async () => {
  await base.dispose()
  await steered.model.dispose()
})

describe('HPR on the organism', () => {
  it('fits householder interventions at resid_post on the two best layers', () => {
    expect(edit.method).toBe('hpr')
    expect(edit.interventions).toHaveLength(2)
    for (const intervention of edit.interventions) {
      expect(intervention.site).toBe('resid_post')
      if (intervention.op.kind !== 'householder') throw new Error('expected householder ops')
      expect(intervention.op.angleWidths).toEqual([224, 112, 56, 28, 1])
      for (const values of [
        intervention.op.probe,
        ...intervention.op.angleWeights,
        ...intervention.op.angleBiases,
      ]) {
        expect(values.every(Number.isFinite)).toBe(true)
      }
    }
    expect(edit.notes).toMatch(/validation probe accuracy: layer 0 /)
  })

  it('reproduces the base logits exactly at strength 0 and changes them, finitely, at strength 1', async () => {
    const expected = (await forwardBatch(base, rows, { fetch: ['logits'] })).outputs.logits
      ?.data as Float32Array
    const run = async (strength: number) =>
      (
        await forwardBatch(steered.model, rows, {
          fetch: ['logits'],
          extraInputs: steeringInputs(steered.compiled, [strength]),
        })
      ).outputs.logits?.data as Float32Array
    const zero = await run(0)
    expect(Array.from(zero)).toEqual(Array.from(expected))
    const one = await run(1)
    expect(one.every(Number.isFinite)).toBe(true)
    expect(one.some((value, index) => value !== expected[index])).toBe(true)
  })
})
