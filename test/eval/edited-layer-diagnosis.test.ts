import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { ActivationSet } from '../../src/shared/activations.ts'
import type { Edit } from '../../src/shared/edit.ts'
import { captureActivations } from '../../src/main/core/capture/capture.ts'
import { readDemonstrationFile } from '../../src/main/core/data/jsonl.ts'
import { contrastPairs } from '../../src/main/core/data/pairs.ts'
import { renderPairs } from '../../src/main/core/data/render.ts'
import { loadRenderTokenizer } from '../../src/main/core/data/tokenizer.ts'
import { fingerprintModel } from '../../src/main/core/edits/fingerprint.ts'
import { diagnoseLayers } from '../../src/main/core/fitting/layer-diagnosis.ts'
import { methodById } from '../../src/main/core/methods/index.ts'
import { parseOptions } from '../../src/main/core/methods/method.ts'
import { defaultModelFolder } from '../../src/main/core/models/default-model.ts'
import { loadModel, type LoadedModel } from '../../src/main/core/runtime/model.ts'

/**
 * Layer diagnostics with a fitted edit on the organism: the norms with the edit compiled in, checked against a
 * direct Float64Array computation from the base capture at the edit's own layer, unchanged before it, and bit for
 * bit the base norms at strength 0; the direction cosines against a direct computation.
 */

const editLayer = 2
const strength = 3
let scratch: string
let pairsFile: string
let model: LoadedModel
let width: number

beforeAll(async () => {
  scratch = mkdtempSync(join(tmpdir(), 'tiller-edited-diagnosis-'))
  const lines = readFileSync('resources/datasets/politeness.pairs.jsonl', 'utf8').trim().split('\n')
  pairsFile = join(scratch, 'politeness.pairs.jsonl')
  writeFileSync(pairsFile, lines.slice(0, 8).join('\n') + '\n')
  model = await loadModel(defaultModelFolder(), { provider: 'cpu' })
  width = model.config.hiddenSize
})
afterAll(async () => {
  await model.dispose()
  rmSync(scratch, { recursive: true, force: true })
})

function vectorOf(seed: number): Float32Array {
  return Float32Array.from({ length: width }, (_, index) => Math.sin(seed * 12.9898 + index * 78.233))
}

async function addEdit(id: string, vector: Float32Array, layer = editLayer): Promise<Edit> {
  return {
    version: 1,
    id,
    method: 'mean-diff',
    options: {},
    model: await fingerprintModel(model.folder),
    interventions: [{ layer, site: 'resid_post', positions: { kind: 'all' }, op: { kind: 'add', vector } }],
    created: '2026-01-01T00:00:00.000Z',
    notes: '',
  }
}

/** The base capture at the edit's layer, rendered exactly as the diagnosis renders mean-diff's pairs. */
async function baseCapture(): Promise<ActivationSet> {
  const method = methodById('mean-diff')
  const capture = method.capture(parseOptions(method, {}), model.config.layers)
  const set = await readDemonstrationFile(pairsFile)
  const rendered = renderPairs(
    contrastPairs(set, 'train'),
    await loadRenderTokenizer(model.folder),
    set.source,
    capture.render,
  )
  return captureActivations(model, rendered.examples, {
    site: capture.site,
    selector: capture.selector,
    layers: [editLayer],
    cacheDirectory: false,
  })
}

describe('layer diagnostics with a fitted edit', () => {
  it('reports norms after the edit: +αv at its layer, unchanged before it, moved after it', async () => {
    const vector = vectorOf(1)
    const edit = await addEdit('fitted', vector)
    const report = await diagnoseLayers({ model, data: pairsFile, maxPairs: 8, edit: { edit, strength } })
    expect(report.edited).toMatchObject({ editId: 'fitted', strength, layers: [editLayer], cosines: [] })

    // At the edit's layer every completion position gets +αv, so the completion mean moves by exactly αv.
    const base = await baseCapture()
    let expected = 0
    for (const side of [base.positive[0], base.negative[0]] as Float32Array[]) {
      for (let row = 0; row < base.rows; row++) {
        let squares = 0
        for (let index = 0; index < width; index++) {
          const moved = (side[row * width + index] as number) + strength * (vector[index] as number)
          squares += moved * moved
        }
        expected += Math.sqrt(squares)
      }
    }
    expected /= 2 * base.rows
    const atLayer = report.rows[editLayer]
    expect(atLayer?.editedMeanNorm).toBeCloseTo(expected, 3)
    expect(Math.abs((atLayer?.editedMeanNorm ?? 0) - expected) / expected).toBeLessThan(1e-5)
    expect(Math.abs((atLayer?.editedMeanNorm ?? 0) - (atLayer?.meanNorm ?? 0))).toBeGreaterThan(0.1)

    for (const row of report.rows.slice(0, editLayer)) {
      expect(Math.abs((row.editedMeanNorm ?? 0) - row.meanNorm) / row.meanNorm).toBeLessThan(1e-5)
    }
    for (const row of report.rows.slice(editLayer + 1)) expect(row.editedMeanNorm).not.toBe(row.meanNorm)
  })

  it('at strength 0 reproduces the base norms bit for bit, and compares directions with other edits', async () => {
    const own = vectorOf(1)
    const other = vectorOf(2)
    const edit = await addEdit('fitted', own)
    const compareWith = [
      { id: 'other', label: 'caa · other', method: 'caa' as const, edit: await addEdit('other', other) },
      {
        id: 'elsewhere',
        label: 'mean-diff · elsewhere',
        method: 'mean-diff' as const,
        edit: await addEdit('elsewhere', other, editLayer + 1),
      },
    ]
    const report = await diagnoseLayers({
      model,
      data: pairsFile,
      maxPairs: 8,
      edit: { edit, strength: 0 },
      compareWith,
    })
    for (const row of report.rows) expect(row.editedMeanNorm).toBe(row.meanNorm)

    let dot = 0
    let ownSquares = 0
    let otherSquares = 0
    for (let index = 0; index < width; index++) {
      dot += (own[index] as number) * (other[index] as number)
      ownSquares += (own[index] as number) ** 2
      otherSquares += (other[index] as number) ** 2
    }
    expect(report.edited?.cosines).toHaveLength(1)
    expect(report.edited?.cosines[0]).toMatchObject({ otherId: 'other', layer: editLayer, own: 'vector' })
    expect(report.edited?.cosines[0]?.cosine).toBeCloseTo(dot / Math.sqrt(ownSquares * otherSquares), 10)
  })
})
