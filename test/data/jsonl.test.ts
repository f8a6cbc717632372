import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { canonicalJsonl, hashDemonstrations } from '../../src/main/core/data/hash.ts'
import { parseDemonstrations, readDemonstrationFile } from '../../src/main/core/data/jsonl.ts'
import { contrastPairs } from '../../src/main/core/data/pairs.ts'
import { isTillerError } from '../../src/main/core/errors.ts'

const encoder = new TextEncoder()
const bytes = (text: string) => encoder.encode(text)

function concat(...parts: Uint8Array[]): Uint8Array {
  const result = new Uint8Array(parts.reduce((total, part) => total + part.length, 0))
  let offset = 0
  for (const part of parts) {
    result.set(part, offset)
    offset += part.length
  }
  return result
}

describe('parseDemonstrations', () => {
  it('parses pair rows with optional split and tags, skipping blank lines and a BOM', () => {
    const text =
      '\uFEFF{"id":"a","prompt":"Q1","positive":"yes","negative":"no","split":"train","tags":["x"]}\r\n' +
      '\n' +
      '{"id":7,"prompt":"","positive":"Love","negative":"Hate"}\n'
    const { set, issues } = parseDemonstrations(bytes(text), 'pairs.jsonl')
    expect(issues).toEqual([])
    expect(set.kind).toBe('pairs')
    expect(set.rows).toEqual([
      { id: 'a', line: 1, prompt: 'Q1', positive: 'yes', negative: 'no', split: 'train', tags: ['x'] },
      { id: '7', line: 3, prompt: '', positive: 'Love', negative: 'Hate' },
    ])
  })

  it('reports every bad line with its number and keeps the good ones', () => {
    const lines = [
      '{"id":"ok","prompt":"p","positive":"a","negative":"b"}', // 1 ok
      '{"id":"e","prompt":"p","positive":"  ","negative":"b"}', // 2 empty field
      '{"id":"ok","prompt":"p","positive":"c","negative":"d"}', // 3 duplicate id
      '{"id":"j","prompt":"p","positive":"a",', // 4 bad JSON
      '["not","an","object"]', // 5
      '{"id":"u","prompt":"p","positive":"a","negative":"b","postive":"typo"}', // 6 unknown field
      '{"id":"m","prompt":"p","completion":"a","label":"positive"}', // 7 mixed kinds
      '{"id":"s","prompt":"p","positive":"a","negative":"b","split":"dev"}', // 8 bad split
      '{"id":"t","prompt":3,"positive":"a","negative":"b"}', // 9 wrong type
      '{"id":"n","prompt":"p","positive":"a"}', // 10 missing field
      '{"id":"x","text":"?"}', // 11 unknown kind
      '{"id":"same","prompt":"p","positive":"a","negative":"a"}', // 12 identical sides
    ]
    const { set, issues } = parseDemonstrations(bytes(lines.join('\n')), 'bad.jsonl')
    expect(set.rows.map((row) => row.line)).toEqual([1])
    expect(issues.map((issue) => [issue.line, issue.code, issue.field])).toEqual([
      [2, 'empty-field', 'positive'],
      [3, 'duplicate-id', 'id'],
      [4, 'bad-json', undefined],
      [5, 'not-an-object', undefined],
      [6, 'unknown-field', 'postive'],
      [7, 'mixed-kinds', undefined],
      [8, 'invalid-value', 'split'],
      [9, 'wrong-type', 'prompt'],
      [10, 'missing-field', 'negative'],
      [11, 'unknown-kind', undefined],
      [12, 'invalid-value', 'negative'],
    ])
    expect(issues[1]!.message).toContain('already used on line 1')
  })

  it('reports invalid UTF-8 with line and byte, and over-long rows', () => {
    const good = bytes('{"id":"a","prompt":"p","positive":"a","negative":"b"}\n')
    const before = '{"id":"b","prompt":"p","positive":"'
    const broken = concat(bytes(before), new Uint8Array([0xff, 0xfe]), bytes('","negative":"b"}\n'))
    const long = bytes(`{"id":"c","prompt":"${'x'.repeat(200)}","positive":"a","negative":"b"}`)
    const { set, issues } = parseDemonstrations(concat(good, broken, long), 'enc.jsonl', {
      maxLineBytes: 100,
    })
    expect(set.rows.length).toBe(1)
    expect(issues.map((issue) => [issue.line, issue.code])).toEqual([
      [2, 'invalid-utf8'],
      [3, 'too-long'],
    ])
    expect(issues[0]!.message).toContain(`byte ${before.length + 1};`)
    expect(issues[1]!.message).toContain('over the limit of 100')
  })

  it('validates labelled rows and multiple-choice items', () => {
    const labelled = parseDemonstrations(
      bytes(
        '{"id":"a","prompt":"p","completion":"c","label":"positive"}\n{"id":"b","prompt":"p","completion":"c","label":"good"}',
      ),
      'l.jsonl',
    )
    expect(labelled.set.kind).toBe('labelled')
    expect(labelled.issues.map((issue) => [issue.line, issue.field])).toEqual([[2, 'label']])
    const choices = parseDemonstrations(
      bytes(
        [
          '{"id":"q1","question":"2+2?","choices":["4","5"],"correct":[0]}',
          '{"id":"q2","question":"?","choices":["a","b"],"correct":[2]}',
          '{"id":"q3","question":"?","choices":["a"],"correct":[0]}',
          '{"id":"q4","question":"?","choices":["a",""],"correct":[0]}',
        ].join('\n'),
      ),
      'mc.jsonl',
    )
    expect(choices.set.rows).toEqual([
      { id: 'q1', line: 1, question: '2+2?', choices: ['4', '5'], correct: [0] },
    ])
    expect(choices.issues.map((issue) => [issue.line, issue.code, issue.field])).toEqual([
      [2, 'invalid-value', 'correct'],
      [3, 'wrong-type', 'choices'],
      [4, 'empty-field', 'choices[1]'],
    ])
  })
})

describe('readDemonstrationFile', () => {
  it('refuses a file with issues, listing file:line for each', async () => {
    const folder = mkdtempSync(join(tmpdir(), 'tiller-jsonl-'))
    const path = join(folder, 'set.jsonl')
    writeFileSync(
      path,
      '{"id":"a","prompt":"p","positive":"a","negative":"b"}\n{"id":"a","prompt":"p","positive":"","negative":"b"}\n',
    )
    await expect(readDemonstrationFile(path)).rejects.toSatisfy(
      (error) =>
        isTillerError(error, 'invalid-dataset') &&
        (error as Error).message.includes(`${path}:2: "positive" is empty`),
    )
    writeFileSync(path, '\n\n')
    await expect(readDemonstrationFile(path)).rejects.toThrow(/holds no rows/)
    await expect(readDemonstrationFile(join(folder, 'absent.jsonl'))).rejects.toSatisfy((error) =>
      isTillerError(error, 'file-not-found'),
    )
  })
})

describe('dataset hashing and contrast pairs', () => {
  it('hashes the data, not the formatting', () => {
    const first = parseDemonstrations(
      bytes('{"prompt":"p","id":"a","negative":"b","positive":"a"}\n\n'),
      'x',
    ).set
    const second = parseDemonstrations(
      bytes('{ "id": "a", "prompt": "p", "positive": "a", "negative": "b" }'),
      'y',
    ).set
    const changed = parseDemonstrations(
      bytes('{"id":"a","prompt":"p","positive":"a","negative":"c"}'),
      'z',
    ).set
    expect(canonicalJsonl(first)).toBe('{"id":"a","prompt":"p","positive":"a","negative":"b"}\n')
    expect(hashDemonstrations(first)).toEqual(hashDemonstrations(second))
    expect(hashDemonstrations(first).hash).not.toBe(hashDemonstrations(changed).hash)
    expect(hashDemonstrations(first).size).toBe(1)
  })

  it('pairs labelled rows in file order and refuses unequal counts', () => {
    const set = parseDemonstrations(
      bytes(
        [
          '{"id":"p1","prompt":"a","completion":"x","label":"positive"}',
          '{"id":"n1","prompt":"b","completion":"y","label":"negative"}',
          '{"id":"p2","prompt":"c","completion":"z","label":"positive","split":"test"}',
        ].join('\n'),
      ),
      'l.jsonl',
    ).set
    expect(contrastPairs(set, 'train')).toEqual([
      {
        id: 'p1|n1',
        lines: [1, 2],
        positive: { prompt: 'a', completion: 'x' },
        negative: { prompt: 'b', completion: 'y' },
      },
    ])
    expect(() => contrastPairs(set)).toThrow(/2 positive and 1 negative/)
  })
})
