import { spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, describe, expect, it } from 'vitest'
import { parseDemonstrations, readDemonstrationFile } from '../../src/main/core/data/jsonl.ts'
import { defaultParseLimits } from '../../src/main/core/data/schema.ts'
import { isTillerError, type TillerError } from '../../src/main/core/errors.ts'

/**
 * Demonstration files are read line by line within a file-size and a row limit. Before, every line of the file was
 * held as its own array entry: 80 MB of blank lines cost ~120 bytes of heap per byte and ended in a V8 OOM.
 */

const root = resolve(fileURLToPath(new URL('.', import.meta.url)), '..', '..')
const folder = mkdtempSync(join(tmpdir(), 'tiller-jsonl-limits-'))

afterAll(() => rmSync(folder, { recursive: true, force: true }))

const pair = (id: number) => JSON.stringify({ id, prompt: 'p', positive: 'yes', negative: 'no' })

async function readError(path: string, limits = {}): Promise<TillerError> {
  const error: unknown = await readDemonstrationFile(path, limits).then(
    () => undefined,
    (caught: unknown) => caught,
  )
  if (!isTillerError(error)) throw new Error(`expected a TillerError, got ${String(error)}`)
  return error
}

describe('demonstration file limits', () => {
  it('reads 20 MB of blank lines in a 96 MB heap and says the file holds no rows', () => {
    const path = join(folder, 'blank.jsonl')
    writeFileSync(path, Buffer.alloc(20 * 1024 * 1024, 0x0a))
    // A child process with a small heap: the old line array needed ~2.4 GB for this file.
    const script = [
      "import { readDemonstrationFile } from './src/main/core/data/jsonl.ts'",
      'const outcome = await readDemonstrationFile(process.env.TILLER_TEST_FILE).then(',
      "  () => ({ outcome: 'read' }),",
      '  (error) => ({ outcome: error.name, code: error.code, message: error.message }),',
      ')',
      'console.log(JSON.stringify(outcome))',
    ].join('\n')
    const child = spawnSync(
      process.execPath,
      ['--max-old-space-size=96', '--import', 'tsx', '--input-type=module', '--eval', script],
      { cwd: root, encoding: 'utf8', env: { ...process.env, TILLER_TEST_FILE: path } },
    )
    expect(child.stderr).not.toContain('heap out of memory')
    expect(child.status).toBe(0)
    expect(JSON.parse(child.stdout.trim())).toEqual({
      outcome: 'TillerError',
      code: 'invalid-dataset',
      message: `${path} holds no rows; add one JSON object per line.`,
    })
  })

  it('keeps line numbers across blank lines, CRLF endings and a last line without a newline', () => {
    const text = `\n\r\n${pair(1)}\r\n\n  \n${pair(2)}`
    const { set, issues } = parseDemonstrations(new TextEncoder().encode(text), 'numbers.jsonl')
    expect(issues).toEqual([])
    expect(set.rows.map((row) => [row.id, row.line])).toEqual([
      ['1', 3],
      ['2', 6],
    ])
  })

  it('refuses a file over the size limit before reading it, naming the limit', async () => {
    const path = join(folder, 'large.jsonl')
    writeFileSync(path, Array.from({ length: 100 }, (_, index) => pair(index)).join('\n'))
    const error = await readError(path, { maxFileBytes: 1024 })
    expect(error.code).toBe('invalid-dataset')
    expect(error.subject).toBe(path)
    expect(error.message).toMatch(/is 0\.\d MB, over the 0\.0 MB limit for a demonstration file; split it/)
    expect(() => parseDemonstrations(new Uint8Array(2048), 'bytes.jsonl', { maxFileBytes: 1024 })).toThrow(
      /over the 0\.0 MB limit/,
    )
  })

  it('refuses more rows than the limit, valid or not, naming the limit and the line', async () => {
    const path = join(folder, 'rows.jsonl')
    writeFileSync(path, ['', pair(1), 'not json', '', pair(3), pair(4)].join('\n'))
    const error = await readError(path, { maxRows: 3 })
    expect(error.code).toBe('invalid-dataset')
    expect(error.message).toBe(
      `${path} has more than 3 rows (the limit for a demonstration file, reached on line 6); split it into smaller files.`,
    )
    // Exactly at the limit, the file is parsed and its bad line reported as usual.
    const { set, issues } = parseDemonstrations(
      new TextEncoder().encode(['', pair(1), 'not json', '', pair(3)].join('\n')),
      'rows.jsonl',
      { maxRows: 3 },
    )
    expect(set.rows).toHaveLength(2)
    expect(issues.map((issue) => [issue.line, issue.code])).toEqual([[3, 'bad-json']])
  })

  it('defaults to 64 MiB and 100,000 rows', () => {
    expect(defaultParseLimits).toEqual({
      maxLineBytes: 64 * 1024,
      maxFileBytes: 64 * 1024 * 1024,
      maxRows: 100_000,
    })
  })
})
