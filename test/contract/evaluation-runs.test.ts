import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, test } from 'vitest'
import { evaluationRunFormat, listRuns, runId, saveRun } from '../../src/main/core/engine/evaluation-runs.ts'
import { sampleRun } from '../renderer/fit-evaluate-fixtures.ts'

/** Evaluation runs in the workspace's runs folder: written whole, listed newest first, damaged files named. */

const folder = mkdtempSync(join(tmpdir(), 'tiller-runs-'))
afterAll(() => rmSync(folder, { recursive: true, force: true }))

describe('evaluation runs', () => {
  test('save, list newest first, skip other reports, name damaged run files', async () => {
    const { path: _older, ...older } = { ...sampleRun('2026-01-01-a'), created: '2026-01-01T00:00:00.000Z' }
    const { path: _newer, ...newer } = { ...sampleRun('2026-01-02-b'), created: '2026-01-02T00:00:00.000Z' }
    const savedOlder = await saveRun(older, folder)
    const savedNewer = await saveRun(newer, folder)
    expect(savedOlder.path).toBe(join(folder, '2026-01-01-a.json'))
    expect(JSON.parse(readFileSync(savedOlder.path, 'utf8')).format).toBe(evaluationRunFormat)
    writeFileSync(join(folder, 'fit-report.json'), JSON.stringify({ format: 'something-else/1' }))
    writeFileSync(join(folder, 'torn.json'), '{"format": "tiller-evaluation-run/1", "id": ')
    writeFileSync(join(folder, 'partial.json'), JSON.stringify({ format: evaluationRunFormat, id: 'x' }))

    const listed = await listRuns(folder)
    expect(listed.runs).toEqual([savedNewer, savedOlder])
    expect(listed.problems).toEqual([
      `${join(folder, 'partial.json')} is an evaluation run with missing fields; move it away or delete it.`,
      `${join(folder, 'torn.json')} is not readable JSON; move it away or delete it.`,
    ])
    expect(await listRuns(join(folder, 'missing'))).toEqual({ runs: [], problems: [] })
  })

  test('run ids sort by time and are safe file names', () => {
    expect(runId(new Date('2026-03-04T05:06:07.089Z'), 'mean-diff · sentiment.mc/../x')).toBe(
      '2026-03-04T05-06-07-089Z-mean-diff-sentiment.mc-..-x',
    )
  })
})
