import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { recommendLayer, type LayerDiagnosticsReport } from '../../src/shared/layer-diagnostics.ts'
import { runTiller } from '../helpers/cli.ts'

/** `tiller diagnose` on the embedded organism with a few pairs: the table, the JSON and bad input. */

let scratch: string
let pairs: string

beforeAll(() => {
  scratch = mkdtempSync(join(tmpdir(), 'tiller-diagnose-'))
  const lines = readFileSync('resources/datasets/politeness.pairs.jsonl', 'utf8').trim().split('\n')
  pairs = join(scratch, 'politeness.pairs.jsonl')
  writeFileSync(pairs, lines.slice(0, 10).join('\n') + '\n')
})
afterAll(() => rmSync(scratch, { recursive: true, force: true }))

describe('tiller diagnose', () => {
  it('prints one row per layer and marks the recommended layer; --json agrees with the shared rule', async () => {
    const json = await runTiller(['diagnose', '--dataset', pairs, '--pairs', '8', '--json'])
    expect(json.stderr).toBe('')
    expect(json.code).toBe(0)
    const report = JSON.parse(json.stdout) as LayerDiagnosticsReport
    expect(report.pairs).toBe(8)
    expect(report.heldOutRows).toBe(4)
    expect(report.rows.map((row) => row.layer)).toEqual([0, 1, 2, 3, 4, 5])
    for (const row of report.rows) {
      // Held-out accuracy over 4 rows per side moves in steps of 1/8.
      expect(Number.isInteger(row.probeAccuracy * 8)).toBe(true)
      expect(row.meanNorm).toBeGreaterThan(0)
    }
    expect(report.recommendedLayer).toBe(recommendLayer(report.rows).layer)

    const text = await runTiller(['diagnose', '--dataset', pairs, '--pairs', '8'])
    expect(text.code).toBe(0)
    const tableRows = text.stdout.split('\n').filter((line) => /^\| \d/.test(line))
    expect(tableRows).toHaveLength(6)
    expect(tableRows.filter((line) => line.includes('←'))).toEqual([
      expect.stringMatching(new RegExp(`^\\| ${report.recommendedLayer} ←`)),
    ])
    expect(text.stdout).toContain(`recommended layer: ${report.recommendedLayer}.`)
  })

  it('refuses an unknown method and a set with too few pairs in one line', async () => {
    const method = await runTiller(['diagnose', '--dataset', pairs, '--method', 'magic'])
    expect(method.code).not.toBe(0)
    expect(method.stderr).toMatch(/--method/)
    const few = await runTiller(['diagnose', '--dataset', pairs, '--pairs', '3'])
    expect(few.code).toBe(1)
    expect(few.stderr.trim().split('\n')).toHaveLength(1)
    expect(few.stderr).toContain('at least 4')
  })
})
