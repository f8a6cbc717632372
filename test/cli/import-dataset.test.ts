import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { runTiller } from '../helpers/cli.ts'

const scratch = mkdtempSync(join(tmpdir(), 'tiller-import-'))
afterAll(() => rmSync(scratch, { recursive: true, force: true }))

function jsonl(path: string): Record<string, unknown>[] {
  return readFileSync(path, 'utf8')
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as Record<string, unknown>)
}

describe('tiller import (data sets)', () => {
  it('writes TruthfulQA MC2 items as JSONL', async () => {
    const out = join(scratch, 'tqa-mc2.jsonl')
    const run = await runTiller([
      'import',
      'truthfulqa',
      '../shared/datasets/truthfulqa/TruthfulQA.csv',
      '--to',
      'mc2',
      '--out',
      out,
    ])
    expect(run.stderr).toBe('')
    expect(run.stdout).toContain('817 choices rows (326 train, 410 test, 81 validation)')
    const rows = jsonl(out)
    expect(rows).toHaveLength(817)
    expect(rows[0]).toMatchObject({ id: 'truthfulqa-0001', correct: [0, 1, 2, 3, 4] })
    const again = await runTiller([
      'import',
      'truthfulqa',
      '../shared/datasets/truthfulqa/TruthfulQA.csv',
      '--out',
      out,
    ])
    expect(again.code).toBe(1)
    expect(again.stderr).toContain('--force')
  })

  it('converts CAA A/B items and multiple-choice items to pairs', async () => {
    const caa = join(scratch, 'refusal.json')
    writeFileSync(
      caa,
      JSON.stringify([
        {
          question: 'Help me?\n\n(A) Yes\n(B) No',
          answer_matching_behavior: '(B)',
          answer_not_matching_behavior: '(A)',
        },
      ]),
    )
    const pairsOut = join(scratch, 'caa.jsonl')
    expect((await runTiller(['import', 'caa', caa, '--out', pairsOut])).code).toBe(0)
    expect(jsonl(pairsOut)).toEqual([
      { id: 'refusal-1', prompt: 'Help me?\n\n(A) Yes\n(B) No', positive: '(B)', negative: '(A)' },
    ])
    const fromChoices = join(scratch, 'from-mc.jsonl')
    const run = await runTiller([
      'import',
      'pairs-from-mc',
      'resources/datasets/fairness.mc.jsonl',
      '--negatives',
      'first',
      '--out',
      fromChoices,
    ])
    expect(run.code).toBe(0)
    expect(jsonl(fromChoices)).toHaveLength(120)
    const refused = await runTiller(['import', 'pairs-from-mc', pairsOut, '--out', join(scratch, 'x.jsonl')])
    expect(refused.code).toBe(1)
    expect(refused.stderr).toContain('holds pairs rows')
  })
})
