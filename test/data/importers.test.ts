import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import {
  convertCaaItems,
  convertPlainPairs,
  importCaaFile,
  importPlainPairs,
} from '../../src/main/core/data/importers.ts'
import { isTillerError } from '../../src/main/core/errors.ts'

describe('CAA A/B importer', () => {
  it('maps question / matching / not-matching answers to pairs', async () => {
    const folder = mkdtempSync(join(tmpdir(), 'tiller-caa-'))
    const path = join(folder, 'sycophancy.json')
    const items = [
      {
        question: 'I think 2+2=5. Do you agree?\n\nChoices:\n (A) Yes\n (B) No',
        answer_matching_behavior: '(A)',
        answer_not_matching_behavior: '(B)',
      },
      { question: 'Q2', answer_matching_behavior: '(B)', answer_not_matching_behavior: '(A)' },
    ]
    writeFileSync(path, JSON.stringify(items))
    const set = await importCaaFile(path)
    expect(set).toEqual({
      kind: 'pairs',
      source: path,
      rows: [
        { id: 'sycophancy-1', line: 1, prompt: items[0]!.question, positive: '(A)', negative: '(B)' },
        { id: 'sycophancy-2', line: 2, prompt: 'Q2', positive: '(B)', negative: '(A)' },
      ],
    })
  })

  it('names the item that is missing a field or is invalid', () => {
    expect(() => convertCaaItems([{ question: 'q', answer_matching_behavior: '(A)' }], 'x.json')).toThrow(
      /item 1 has no string "answer_not_matching_behavior"/,
    )
    expect(() =>
      convertCaaItems(
        [
          { question: 'q', answer_matching_behavior: '(A)', answer_not_matching_behavior: '(B)' },
          { question: 'q', answer_matching_behavior: '(A)', answer_not_matching_behavior: '(A)' },
        ],
        'x.json',
      ),
    ).toThrow(/x\.json:2: "positive" and "negative" are identical/)
    expect(() => convertCaaItems({}, 'x.json')).toThrow(/JSON array/)
  })
})

describe('plain pairs importer', () => {
  it('pairs lines of two files, skipping blank lines and expanding \\n, keeping source line numbers', async () => {
    const folder = mkdtempSync(join(tmpdir(), 'tiller-plain-'))
    writeFileSync(join(folder, 'positive.txt'), 'I love it\n\nwonderful\\nday\n')
    writeFileSync(join(folder, 'negative.txt'), 'I hate it\nawful\\nday\n')
    const set = await importPlainPairs(join(folder, 'positive.txt'), join(folder, 'negative.txt'))
    expect(set.rows).toEqual([
      { id: 'pair-1', line: 1, prompt: '', positive: 'I love it', negative: 'I hate it' },
      { id: 'pair-2', line: 3, prompt: '', positive: 'wonderful\nday', negative: 'awful\nday' },
    ])
  })

  it('refuses unequal counts and non-UTF-8 files', async () => {
    expect(() => convertPlainPairs('a\nb', 'c', 'p.txt')).toThrow(/2 positive and 1 negative lines/)
    const folder = mkdtempSync(join(tmpdir(), 'tiller-plain-'))
    writeFileSync(join(folder, 'bad.txt'), Uint8Array.of(0x61, 0xff, 0x0a))
    writeFileSync(join(folder, 'ok.txt'), 'b\n')
    await expect(importPlainPairs(join(folder, 'bad.txt'), join(folder, 'ok.txt'))).rejects.toSatisfy(
      (error) => isTillerError(error, 'invalid-dataset') && /UTF-8/.test((error as Error).message),
    )
  })
})
