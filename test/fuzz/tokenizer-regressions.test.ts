import { readFileSync, rmSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'

import { loadRenderTokenizer } from '../../src/main/core/data/tokenizer.ts'
import { isTillerError } from '../../src/main/core/errors.ts'
import { loadTokenizer } from '../../src/main/core/runtime/tokenizer.ts'
import { buildTinyModel } from '../helpers/tiny-models.ts'

/**
 * Crash classes the model-json fuzz format found (seed 6, cases 1329 and 125): Transformers.js loads these damaged
 * tokenizer.json files and only fails when encoding — a TypeError out of `findSpaceToken`, or token ids that are not
 * numbers and a raw Error out of decode. Both loaders now refuse them at load time.
 */

let folder = ''
let valid: Record<string, unknown> = {}

beforeAll(async () => {
  folder = await buildTinyModel({ family: 'builder' })
  valid = JSON.parse(readFileSync(join(folder, 'tokenizer.json'), 'utf8')) as Record<string, unknown>
})
afterAll(() => {
  if (folder !== '') rmSync(dirname(folder), { recursive: true, force: true })
})

function withSingleTemplate(single: unknown): void {
  const processor = valid['post_processor'] as Record<string, unknown>
  const damaged = { ...valid, post_processor: { ...processor, single } }
  writeFileSync(join(folder, 'tokenizer.json'), JSON.stringify(damaged))
}

async function refusal(load: (folder: string) => Promise<unknown>): Promise<Error> {
  const caught: unknown = await load(folder).then(
    () => undefined,
    (error: unknown) => error,
  )
  expect(isTillerError(caught, 'file-corrupt'), String(caught)).toBe(true)
  return caught as Error
}

describe('tokenizers that load but cannot encode', () => {
  it('a post-processor step that is a number, not an object (case 1329)', async () => {
    withSingleTemplate([0, { Sequence: { id: 'A', type_id: 0 } }])
    for (const load of [loadTokenizer, loadRenderTokenizer]) {
      const error = await refusal(load)
      expect(error.message).toContain(`The tokenizer in ${folder} loads but cannot encode text`)
      expect(error.message).toContain("Cannot use 'in' operator")
    }
  })

  it('a special token named by a number (case 125)', async () => {
    withSingleTemplate([{ SpecialToken: { id: 0, type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }])
    for (const load of [loadTokenizer, loadRenderTokenizer]) {
      const error = await refusal(load)
      expect(error.message).toContain('token ids that are not whole numbers')
    }
  })

  it('the undamaged tokenizer still loads both ways', async () => {
    writeFileSync(join(folder, 'tokenizer.json'), JSON.stringify(valid))
    expect((await loadTokenizer(folder)).encode('a b', { add_special_tokens: false }).length).toBeGreaterThan(
      0,
    )
    expect((await loadRenderTokenizer(folder)).encode('a b', false).length).toBeGreaterThan(0)
  })
})
