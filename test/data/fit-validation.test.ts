import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { previewDataset } from '../../src/main/core/engine/dataset-catalog.ts'
import { isTillerError } from '../../src/main/core/errors.ts'
import { fitFromDemonstrations } from '../../src/main/core/fitting/fit-pipeline.ts'

/**
 * The preview and the fit run one validator: a file the preview flags is refused by the fit on exactly the flagged
 * lines, and a file the preview shows clean gets past the fit's data checks. The fit is pointed at a model folder
 * that does not exist: its data checks run before any model loads, so a clean file fails later, on the model.
 */

const folder = mkdtempSync(join(tmpdir(), 'tiller-fit-validation-'))

function file(name: string, rows: unknown[]): string {
  const path = join(folder, name)
  writeFileSync(
    path,
    rows.map((row) => (typeof row === 'string' ? row : JSON.stringify(row))).join('\n') + '\n',
  )
  return path
}

async function fitFailure(path: string): Promise<{ code: string; message: string }> {
  const error = await fitFromDemonstrations({
    model: { folder: join(folder, 'no-such-model') },
    data: path,
    method: 'mean-diff',
    options: { layers: [0] },
  }).then(
    () => null,
    (thrown: unknown) => thrown,
  )
  if (!isTillerError(error)) throw new Error(`expected a TillerError, got ${String(error)}`)
  return { code: error.code, message: error.message }
}

/** The `file:line` references of a fit refusal. */
function refusedLines(path: string, message: string): number[] {
  const pattern = new RegExp(`${path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:(\\d+):`, 'g')
  return [...message.matchAll(pattern)].map((match) => Number(match[1]))
}

describe('preview and fit agree', () => {
  it('labelled rows without a partner: flagged on their lines by the preview, refused there by the fit', async () => {
    // The bug this guards: the preview listed no issue for this file (every line parses) and the fit then failed.
    const path = file('unpaired.jsonl', [
      { id: 'a', prompt: 'p', completion: 'kind words', label: 'positive' },
      { id: 'b', prompt: 'p', completion: 'cruel words', label: 'negative' },
      { id: 'c', prompt: 'p', completion: 'warm words', label: 'positive' },
      { id: 'd', prompt: 'p', completion: 'happy words', label: 'positive' },
      { id: 'e', prompt: 'p', completion: 'held out', label: 'negative', split: 'test' },
    ])
    const preview = await previewDataset(path, 20, null)
    const flagged = preview.issues.map((issue) => issue.line)
    expect(flagged).toEqual([3, 4, 5])
    expect(preview.issues.map((issue) => issue.code)).toEqual(['unpaired', 'unpaired', 'unpaired'])
    const failure = await fitFailure(path)
    expect(failure.code).toBe('invalid-dataset')
    expect(refusedLines(path, failure.message)).toEqual(flagged)
  })

  it('bad lines of a pairs file: the same lines in the preview and in the refusal', async () => {
    const path = file('bad-pairs.jsonl', [
      { id: 'a', prompt: 'p', positive: 'yes', negative: 'no' },
      { id: 'b', prompt: 'p', positive: '  ', negative: 'no' },
      '{"id": "c", "prompt": ',
      { id: 'a', prompt: 'p', positive: 'sure', negative: 'never' },
      { id: 'e', prompt: 'p', positive: 'same', negative: 'same' },
    ])
    const preview = await previewDataset(path, 20, null)
    expect(preview.issues.map((issue) => [issue.line, issue.code])).toEqual([
      [2, 'empty-field'],
      [3, 'bad-json'],
      [4, 'duplicate-id'],
      [5, 'invalid-value'],
    ])
    const failure = await fitFailure(path)
    expect(refusedLines(path, failure.message)).toEqual([2, 3, 4, 5])
  })

  it('a set with no training row is flagged as a whole and refused', async () => {
    const path = file('test-only.jsonl', [
      { id: 'a', prompt: 'p', positive: 'yes', negative: 'no', split: 'test' },
    ])
    const preview = await previewDataset(path, 20, null)
    expect(preview.issues).toEqual([expect.objectContaining({ line: 0, code: 'no-training-rows' })])
    const failure = await fitFailure(path)
    expect(failure.code).toBe('invalid-dataset')
    expect(failure.message).toMatch(/no row is in the training split/)
  })

  it('a file the preview shows clean passes the fit’s data checks (and fails on the missing model)', async () => {
    const path = file('clean.jsonl', [
      { id: 'a', prompt: 'p', completion: 'kind words', label: 'positive' },
      { id: 'b', prompt: 'p', completion: 'cruel words', label: 'negative' },
    ])
    expect((await previewDataset(path, 20, null)).issues).toEqual([])
    const failure = await fitFailure(path)
    expect(failure.code).not.toBe('invalid-dataset')
  })
})
