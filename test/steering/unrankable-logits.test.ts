import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { fingerprintModel } from '../../src/main/core/edits/fingerprint.ts'
import {
  loadSteeredModel,
  steeringInputs,
  type SteeredModel,
} from '../../src/main/core/edits/steered-generation.ts'
import { isTillerError, type TillerError } from '../../src/main/core/errors.ts'
import { generate } from '../../src/main/core/runtime/generate.ts'
import { loadModel } from '../../src/main/core/runtime/model.ts'
import type { Edit } from '../../src/shared/edit.ts'
import { buildTinyModel } from '../helpers/tiny-models.ts'

/**
 * Logits that rank no token must not become token 0. Before, argmax over NaN logits, or over the all-zero logits an
 * overflowed RMSNorm gives, answered token 0 every step and generation "succeeded".
 */

let folder = ''
let steered: SteeredModel

/** An additive edit at resid_post of layer 1 whose vector has every component `scale` (alternating sign). */
async function uniformEdit(scale: number): Promise<Edit> {
  const model = await fingerprintModel(folder)
  const vector = Float32Array.from({ length: model.hiddenSize }, (_, index) =>
    index % 2 === 0 ? scale : -scale,
  )
  return {
    version: 1,
    id: `uniform-${scale}`,
    method: 'mean-diff',
    options: {},
    model,
    interventions: [
      { layer: 1, site: 'resid_post', positions: { kind: 'all' }, op: { kind: 'add', vector } },
    ],
    created: '2026-12-03T00:00:00.000Z',
    notes: '',
  }
}

beforeAll(async () => {
  folder = await buildTinyModel({ family: 'builder' })
  steered = await loadSteeredModel(folder, [await uniformEdit(1e30)], { provider: 'cpu' })
})
afterAll(async () => {
  await steered?.model.dispose()
})

async function generateAt(strengths: number[]) {
  return generate(steered.model, {
    rows: strengths.map(() => [1, 7, 9, 11]),
    options: { maxTokens: 3, temperature: 0 },
    extraInputs: steeringInputs(steered.compiled, strengths),
  })
}

async function failure(strengths: number[]): Promise<TillerError> {
  const error: unknown = await generateAt(strengths).then(
    () => undefined,
    (caught: unknown) => caught,
  )
  if (!isTillerError(error)) throw new Error(`expected a TillerError, got ${String(error)}`)
  return error
}

describe('steered generation refuses logits that rank no token', () => {
  it('generates at strength 0 exactly as the unedited model, so the refusals below are about the strength', async () => {
    const base = await loadModel(folder, { provider: 'cpu' })
    try {
      const [plain] = await generate(base, {
        rows: [[1, 7, 9, 11]],
        options: { maxTokens: 3, temperature: 0 },
      })
      const [atZero] = await generateAt([0])
      expect(atZero?.generated).toEqual(plain?.generated)
    } finally {
      await base.dispose()
    }
  })

  it('NaN logits (the vector times the strength overflows float32), naming the strength and the row', async () => {
    const error = await failure([0, 1e10])
    expect([error.code, error.subject]).toEqual(['invalid-argument', 'strength'])
    expect(error.message).toBe(
      "At strength 10000000000 of the edits, the steered model's logits are NaN at new token 1 (row 1), so no " +
        'token can be chosen: the edit drives the activations out of range. Lower the strength.',
    )
  })

  it('one value for every token (the RMSNorm overflows and outputs zeros)', async () => {
    const error = await failure([1e-5])
    expect(error.message).toMatch(
      /^At strength 0.00001 of the edits, the steered model's logits are all 0 at new token 1 \(row 0\)/,
    )
  })

  it('strengths beyond float32, which the graph would read as infinite', async () => {
    const error: unknown = (() => {
      try {
        steeringInputs(steered.compiled, [1, 1e39])
      } catch (caught) {
        return caught
      }
      return undefined
    })()
    expect(isTillerError(error, 'invalid-argument')).toBe(true)
    expect((error as Error).message).toContain(
      'finite float32 numbers (magnitude below 3.4e38); got 1, 1e+39',
    )
  })
})
