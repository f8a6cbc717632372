import { rmSync } from 'node:fs'
import { dirname } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { isTillerError } from '../../src/main/core/errors.ts'
import { smokeCheckEdit } from '../../src/main/core/fitting/smoke-check.ts'
import { editOf } from '../compiler/support.ts'
import { buildTinyModel, tinyConfig } from '../helpers/tiny-models.ts'

describe('the smoke check after a fit', () => {
  let folder = ''
  beforeAll(async () => {
    folder = await buildTinyModel({ family: 'optimum' })
  })
  afterAll(() => rmSync(dirname(folder), { recursive: true, force: true }))

  const tokens = [1, 72, 101, 108, 108, 111]
  const withVector = (value: number, positions: 'all' | 'generated') =>
    editOf('smoke', [
      {
        layer: 1,
        site: 'resid_post',
        positions: { kind: positions },
        op: { kind: 'add', vector: new Float32Array(tinyConfig.hiddenSize).fill(value) },
      },
    ])

  it('passes an edit whose logits stay finite at every strength', async () => {
    await expect(
      smokeCheckEdit({ folder, edit: withVector(0.5, 'all'), tokens, strengths: [-2, 1, 2] }),
    ).resolves.toBeUndefined()
  })

  it('refuses an edit whose logits overflow, naming the strength, also for generated-only edits', async () => {
    for (const positions of ['all', 'generated'] as const) {
      let caught: unknown
      try {
        await smokeCheckEdit({ folder, edit: withVector(3e38, positions), tokens, strengths: [0, 2] })
      } catch (error) {
        caught = error
      }
      expect(isTillerError(caught, 'unrepresentable-edit')).toBe(true)
      expect((caught as Error).message).toMatch(/non-finite logits at strength 2 .*not saved/)
    }
  })
})
