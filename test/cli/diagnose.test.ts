import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Edit } from '../../src/shared/edit.ts'
import { recommendLayer, type LayerDiagnosticsReport } from '../../src/shared/layer-diagnostics.ts'
import { writeEditFile } from '../../src/main/core/edits/edit-file.ts'
import { fingerprintModel } from '../../src/main/core/edits/fingerprint.ts'
import { methodById } from '../../src/main/core/methods/index.ts'
import { defaultModelFolder } from '../../src/main/core/models/default-model.ts'
import { runTiller } from '../helpers/cli.ts'

/**
 * `tiller diagnose` on the embedded organism with a few pairs: the table, the JSON and bad input; with `--edit`,
 * the norms after a fitted edit and the cosines with `--compare` edits, checked against direct computations.
 */

let scratch: string
let pairs: string

beforeAll(() => {
  scratch = mkdtempSync(join(tmpdir(), 'tiller-diagnose-'))
  const lines = readFileSync('resources/datasets/politeness.pairs.jsonl', 'utf8').trim().split('\n')
  pairs = join(scratch, 'politeness.pairs.jsonl')
  writeFileSync(pairs, lines.slice(0, 10).join('\n') + '\n')
})
afterAll(() => rmSync(scratch, { recursive: true, force: true }))

const editLayer = 2

/** A mean-diff-shaped edit adding `vector` after block `layer`, written as an edit file of the organism. */
async function editFile(id: string, vector: Float32Array, layer = editLayer): Promise<string> {
  const edit: Edit = {
    version: 1,
    id,
    method: 'mean-diff',
    options: {},
    model: await fingerprintModel(defaultModelFolder()),
    interventions: [{ layer, site: 'resid_post', positions: { kind: 'all' }, op: { kind: 'add', vector } }],
    created: '2026-01-01T00:00:00.000Z',
    notes: '',
  }
  const path = join(scratch, `${id}.safetensors`)
  await writeEditFile(path, edit)
  return path
}

function vectorOf(seed: number, width: number): Float32Array {
  return Float32Array.from({ length: width }, (_, index) => Math.sin(seed * 12.9898 + index * 78.233))
}

async function organismWidth(): Promise<number> {
  return (await fingerprintModel(defaultModelFolder())).hiddenSize
}

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

  it('with --edit at strength 0 reports the base norms bit for bit and the cosine with a --compare edit', async () => {
    const width = await organismWidth()
    const own = vectorOf(1, width)
    const other = vectorOf(2, width)
    const fitted = await editFile('fitted', own)
    const sameLayer = await editFile('other', other)
    const elsewhere = await editFile('elsewhere', other, editLayer + 1)
    const args = ['diagnose', '--dataset', pairs, '--pairs', '8', '--edit', fitted, '--strength', '0']
    const json = await runTiller([...args, '--compare', sameLayer, '--compare', elsewhere, '--json'])
    expect(json.stderr).toBe('')
    expect(json.code).toBe(0)
    const report = JSON.parse(json.stdout) as LayerDiagnosticsReport
    expect(report.rows).toHaveLength(6)
    for (const row of report.rows) expect(row.editedMeanNorm).toBe(row.meanNorm)
    expect(report.edited).toMatchObject({
      editId: 'fitted',
      method: 'mean-diff',
      strength: 0,
      layers: [editLayer],
    })

    // Only the edit at the same layer and site is compared; its cosine against a direct Float64 computation.
    let dot = 0
    let ownSquares = 0
    let otherSquares = 0
    for (let index = 0; index < width; index++) {
      dot += (own[index] as number) * (other[index] as number)
      ownSquares += (own[index] as number) ** 2
      otherSquares += (other[index] as number) ** 2
    }
    expect(report.edited?.cosines).toHaveLength(1)
    expect(report.edited?.cosines[0]).toMatchObject({
      otherId: 'other',
      otherLabel: 'other.safetensors',
      layer: editLayer,
      own: 'vector',
      other: 'vector',
    })
    expect(report.edited?.cosines[0]?.cosine).toBeCloseTo(dot / Math.sqrt(ownSquares * otherSquares), 10)

    const text = await runTiller([...args, '--compare', sameLayer])
    expect(text.code).toBe(0)
    expect(text.stdout).toContain('| layer | probe accuracy | separation d′ | mean norm | norm after edit |')
    const tableRows = text.stdout.split('\n').filter((line) => /^\| \d.* % \|/.test(line))
    expect(tableRows).toHaveLength(6)
    for (const line of tableRows) {
      const cells = line.split('|').map((cell) => cell.trim())
      // Columns: layer, accuracy, d′, mean norm, norm after edit; equal at strength 0.
      expect(cells[5]).toBe(cells[4])
    }
    expect(text.stdout).toContain(`edit fitted (mean-diff, layers ${editLayer}) at strength 0`)
    expect(text.stdout).toMatch(
      new RegExp(`\\| ${editLayer} \\| resid_post \\| other\\.safetensors \\| vector \\| -?\\d\\.\\d{3} \\|`),
    )
  })

  it("with --edit and no --strength measures at the method's default: unchanged before the edit's layer, moved at it", async () => {
    const fitted = await editFile('fitted-default', vectorOf(3, await organismWidth()))
    const run = await runTiller(['diagnose', '--dataset', pairs, '--pairs', '8', '--edit', fitted, '--json'])
    expect(run.stderr).toBe('')
    const report = JSON.parse(run.stdout) as LayerDiagnosticsReport
    expect(report.edited?.strength).toBe(methodById('mean-diff').strength.default)
    expect(report.edited?.cosines).toEqual([])
    for (const row of report.rows.slice(0, editLayer)) {
      expect(Math.abs((row.editedMeanNorm ?? 0) - row.meanNorm) / row.meanNorm).toBeLessThan(1e-5)
    }
    for (const row of report.rows.slice(editLayer)) expect(row.editedMeanNorm).not.toBe(row.meanNorm)
  })

  it('refuses --strength without --edit, and an edit file of another model, naming the file', async () => {
    const lone = await runTiller(['diagnose', '--dataset', pairs, '--strength', '2'])
    expect(lone.code).not.toBe(0)
    expect(lone.stderr).toMatch(/--strength applies to --edit only/)

    const width = await organismWidth()
    const foreign: Edit = {
      version: 1,
      id: 'foreign',
      method: 'mean-diff',
      options: {},
      model: { ...(await fingerprintModel(defaultModelFolder())), weightsHash: '0'.repeat(64) },
      interventions: [
        {
          layer: 1,
          site: 'resid_post',
          positions: { kind: 'all' },
          op: { kind: 'add', vector: vectorOf(4, width) },
        },
      ],
      created: '2026-01-01T00:00:00.000Z',
      notes: '',
    }
    const path = join(scratch, 'foreign.safetensors')
    await writeEditFile(path, foreign)
    const wrong = await runTiller(['diagnose', '--dataset', pairs, '--edit', path])
    expect(wrong.code).not.toBe(0)
    expect(wrong.stdout).toBe('')
    expect(wrong.stderr).toContain('foreign.safetensors')
  })
})
