import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  compareStrengths,
  generateSteered,
  loadSteeredModel,
  type SteeredModel,
} from '../../src/main/core/edits/steered-generation.ts'
import { generate } from '../../src/main/core/runtime/generate.ts'
import { loadModel, type LoadedModel } from '../../src/main/core/runtime/model.ts'
import { buildTinyModel } from '../helpers/tiny-models.ts'
import { editOf, randomVector } from '../compiler/support.ts'

describe.each(['builder', 'optimum'] as const)('steered generation, %s family', (family) => {
  let base: LoadedModel
  let steered: SteeredModel
  const prompt = [1, 72, 101, 108, 108, 111]

  beforeAll(async () => {
    const folder = await buildTinyModel({ family, seed: 3 })
    base = await loadModel(folder, { provider: 'cpu' })
    const edit = editOf('steer', [
      {
        layer: 0,
        site: 'resid_post',
        positions: { kind: 'all' },
        op: { kind: 'add', vector: randomVector(32, 4).map((value) => value * 3) },
      },
    ])
    steered = await loadSteeredModel(folder, [edit], { provider: 'cpu' })
  })
  afterAll(async () => {
    await base.dispose()
    await steered.model.dispose()
  })

  it('a strength-0 row in a batch generates exactly what the base model generates', async () => {
    const options = { maxTokens: 24, temperature: 0.9, seed: 5, eosTokenIds: [-1] }
    const [alone] = await generate(base, { rows: [prompt], options })
    const [zero, one] = await generateSteered(steered, { rows: [prompt, prompt], strengths: [0, 1], options })
    expect(zero?.generated).toEqual(alone?.generated)
    expect(one?.generated).not.toEqual(alone?.generated)
    const [oneAlone] = await generateSteered(steered, { rows: [prompt], strengths: [1], options })
    expect(one?.generated).toEqual(oneAlone?.generated)
  })

  it('compare gives one row per strength, same seed for all rows', async () => {
    const rows = await compareStrengths(steered, prompt, [0, -1, 1], { maxTokens: 12, temperature: 0 })
    expect(rows.map((row) => row.strength)).toEqual([0, -1, 1])
    const [greedy] = await generate(base, { rows: [prompt], options: { maxTokens: 12, temperature: 0 } })
    expect(rows[0]?.tokens).toEqual(greedy?.generated)
    expect(rows[0]?.text).toBe(greedy?.text)
  })

  it('refuses a strength count that does not match the rows', async () => {
    await expect(
      generateSteered(steered, { rows: [prompt], strengths: [0, 1], options: { maxTokens: 2 } }),
    ).rejects.toThrow(/one strength per row/)
  })
})
