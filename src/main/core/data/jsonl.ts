/**
 * JSONL demonstration files: parse and validate line by line, reporting every problem with its line number.
 *
 * Nothing is dropped silently: a rejected line becomes a `DemonstrationIssue`, and `readDemonstrationFile` refuses
 * a file with any issue, listing them. Blank lines are allowed (they hold no row); a UTF-8 byte-order mark at the
 * start and `\r` line endings are accepted.
 */
import { stat } from 'node:fs/promises'
import { TillerError } from '../errors.ts'
import { readUserFile } from '../workspace/read-file.ts'
import { filledLines } from './lines.ts'
import {
  defaultParseLimits,
  kindFields,
  labels,
  optionalFields,
  splits,
  type ChoiceRow,
  type DemonstrationIssue,
  type DemonstrationKind,
  type DemonstrationSet,
  type Label,
  type LabelledRow,
  type PairRow,
  type ParseLimits,
  type RowCommon,
  type Split,
} from './schema.ts'

/** The outcome of parsing: the rows that passed, in file order, and every issue found. */
export interface ParseResult {
  set: DemonstrationSet
  issues: DemonstrationIssue[]
}

type JsonObject = Record<string, unknown>

class RowError extends Error {
  constructor(readonly issue: Omit<DemonstrationIssue, 'line'>) {
    super(issue.message)
  }
}

const utf8 = new TextDecoder('utf-8', { fatal: true })

/** Byte column (1-based) of the first invalid UTF-8 sequence, found by decoding growing prefixes. */
function firstInvalidByte(line: Uint8Array): number {
  let low = 0
  let high = line.length
  // The longest valid prefix: binary search on "decodes without error", allowing a cut multi-byte tail.
  while (low < high) {
    const middle = Math.ceil((low + high) / 2)
    try {
      new TextDecoder('utf-8', { fatal: true }).decode(line.subarray(0, middle), { stream: true })
      low = middle
    } catch {
      high = middle - 1
    }
  }
  return low + 1
}

function detectKind(row: JsonObject): DemonstrationKind | undefined {
  if ('positive' in row || 'negative' in row) return 'pairs'
  if ('completion' in row || 'label' in row) return 'labelled'
  if ('question' in row || 'choices' in row || 'correct' in row) return 'choices'
  return undefined
}

function text(row: JsonObject, field: string, allowEmpty: boolean): string {
  const value = row[field]
  if (value === undefined)
    throw new RowError({ code: 'missing-field', field, message: `missing field "${field}"` })
  if (typeof value !== 'string') {
    throw new RowError({
      code: 'wrong-type',
      field,
      message: `"${field}" must be a string, found ${describe(value)}`,
    })
  }
  if (!allowEmpty && value.trim() === '') {
    throw new RowError({
      code: 'empty-field',
      field,
      message: `"${field}" is empty; write the text or remove the row`,
    })
  }
  return value
}

function describe(value: unknown): string {
  if (value === null) return 'null'
  if (Array.isArray(value)) return 'an array'
  return typeof value === 'object' ? 'an object' : `${typeof value} ${JSON.stringify(value)}`
}

function identifier(row: JsonObject): string {
  const value = row.id
  if (typeof value === 'number' && Number.isInteger(value)) return String(value)
  return text(row, 'id', false)
}

function common(row: JsonObject, kind: DemonstrationKind, line: number): RowCommon {
  const allowed = new Set<string>([...kindFields[kind], ...optionalFields])
  for (const key of Object.keys(row)) {
    if (!allowed.has(key)) {
      throw new RowError({
        code: 'unknown-field',
        field: key,
        message: `unknown field "${key}" for a ${kind} row (allowed: ${[...allowed].join(', ')})`,
      })
    }
  }
  const result: RowCommon = { id: identifier(row), line }
  if (row.split !== undefined) {
    if (typeof row.split !== 'string' || !(splits as readonly string[]).includes(row.split)) {
      throw new RowError({
        code: 'invalid-value',
        field: 'split',
        message: `"split" must be one of ${splits.join(', ')}, found ${describe(row.split)}`,
      })
    }
    result.split = row.split as Split
  }
  if (row.tags !== undefined) {
    if (!Array.isArray(row.tags) || !row.tags.every((tag) => typeof tag === 'string')) {
      throw new RowError({ code: 'wrong-type', field: 'tags', message: '"tags" must be an array of strings' })
    }
    result.tags = [...(row.tags as string[])]
  }
  return result
}

function pairRow(row: JsonObject, line: number): PairRow {
  const base = common(row, 'pairs', line)
  const prompt = text(row, 'prompt', true)
  const positive = text(row, 'positive', false)
  const negative = text(row, 'negative', false)
  if (positive === negative) {
    throw new RowError({
      code: 'invalid-value',
      field: 'negative',
      message: '"positive" and "negative" are identical, so the pair carries no contrast',
    })
  }
  return { ...base, prompt, positive, negative }
}

function labelledRow(row: JsonObject, line: number): LabelledRow {
  const base = common(row, 'labelled', line)
  const prompt = text(row, 'prompt', true)
  const completion = text(row, 'completion', false)
  const label = row.label
  if (label === undefined)
    throw new RowError({ code: 'missing-field', field: 'label', message: 'missing field "label"' })
  if (typeof label !== 'string' || !(labels as readonly string[]).includes(label)) {
    throw new RowError({
      code: 'invalid-value',
      field: 'label',
      message: `"label" must be "positive" or "negative", found ${describe(label)}`,
    })
  }
  return { ...base, prompt, completion, label: label as Label }
}

function choiceRow(row: JsonObject, line: number): ChoiceRow {
  const base = common(row, 'choices', line)
  const question = text(row, 'question', false)
  const choices = row.choices
  if (choices === undefined) {
    throw new RowError({ code: 'missing-field', field: 'choices', message: 'missing field "choices"' })
  }
  if (
    !Array.isArray(choices) ||
    choices.length < 2 ||
    !choices.every((choice) => typeof choice === 'string')
  ) {
    throw new RowError({
      code: 'wrong-type',
      field: 'choices',
      message: '"choices" must be an array of at least two strings',
    })
  }
  const emptyChoice = choices.findIndex((choice) => (choice as string).trim() === '')
  if (emptyChoice >= 0) {
    throw new RowError({
      code: 'empty-field',
      field: `choices[${emptyChoice}]`,
      message: `choice ${emptyChoice} is empty`,
    })
  }
  const correct = row.correct
  if (correct === undefined) {
    throw new RowError({ code: 'missing-field', field: 'correct', message: 'missing field "correct"' })
  }
  const valid =
    Array.isArray(correct) &&
    correct.length > 0 &&
    correct.every((index) => Number.isInteger(index) && index >= 0 && index < choices.length) &&
    new Set(correct).size === correct.length
  if (!valid) {
    throw new RowError({
      code: 'invalid-value',
      field: 'correct',
      message: `"correct" must list distinct 0-based indices into "choices" (0…${choices.length - 1}), at least one`,
    })
  }
  const sorted = [...(correct as number[])].sort((a, b) => a - b)
  return { ...base, question, choices: [...(choices as string[])], correct: sorted }
}

const rowParsers = { pairs: pairRow, labelled: labelledRow, choices: choiceRow }

function megabytes(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`
}

function tooLarge(source: string, size: number, limits: ParseLimits): TillerError {
  return new TillerError(
    'invalid-dataset',
    `${source} is ${megabytes(size)}, over the ${megabytes(limits.maxFileBytes)} limit for a demonstration file; split it into smaller files.`,
    { subject: source },
  )
}

function tooManyRows(source: string, line: number, limits: ParseLimits): TillerError {
  return new TillerError(
    'invalid-dataset',
    `${source} has more than ${limits.maxRows} rows (the limit for a demonstration file, reached on line ${line}); split it into smaller files.`,
    { subject: source },
  )
}

/**
 * Parse JSONL bytes into a demonstration set. Every line that fails validation is left out of the set and reported
 * in `issues` with its line number; callers decide whether to refuse (the CLI and `readDemonstrationFile` do).
 * Lines are read one at a time. Throws TillerError('invalid-dataset') naming the limit when the bytes exceed
 * `limits.maxFileBytes` or hold more than `limits.maxRows` non-blank lines.
 */
export function parseDemonstrations(
  bytes: Uint8Array,
  source: string,
  overrides: Partial<ParseLimits> = {},
): ParseResult {
  const limits: ParseLimits = { ...defaultParseLimits, ...overrides }
  const issues: DemonstrationIssue[] = []
  const rows: (PairRow | LabelledRow | ChoiceRow)[] = []
  const firstLineOfId = new Map<string, number>()
  let kind: DemonstrationKind | undefined
  if (bytes.length > limits.maxFileBytes) throw tooLarge(source, bytes.length, limits)
  let rowCount = 0
  for (const { line, bytes: lineBytes } of filledLines(bytes)) {
    // Every non-blank line becomes a row or an issue: counting them bounds both.
    if (++rowCount > limits.maxRows) throw tooManyRows(source, line, limits)
    parseLine(line, lineBytes)
  }
  const set = { kind: kind ?? 'pairs', source, rows } as DemonstrationSet
  return { set, issues }

  function parseLine(line: number, lineBytes: Uint8Array): void {
    if (lineBytes.length > limits.maxLineBytes) {
      issues.push({
        line,
        code: 'too-long',
        message: `line is ${lineBytes.length} bytes, over the limit of ${limits.maxLineBytes}; shorten the row`,
      })
      return
    }
    let lineText: string
    try {
      lineText = utf8.decode(lineBytes)
    } catch {
      const column = firstInvalidByte(lineBytes)
      issues.push({
        line,
        code: 'invalid-utf8',
        message: `invalid UTF-8 at byte ${column}; save the file as UTF-8`,
      })
      return
    }
    if (lineText.trim() === '') return
    let value: unknown
    try {
      value = JSON.parse(lineText)
    } catch (error) {
      issues.push({ line, code: 'bad-json', message: `not valid JSON (${(error as Error).message})` })
      return
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      issues.push({
        line,
        code: 'not-an-object',
        message: `each line must be a JSON object, found ${describe(value)}`,
      })
      return
    }
    const row = value as JsonObject
    const rowKind = detectKind(row)
    if (rowKind === undefined) {
      issues.push({
        line,
        code: 'unknown-kind',
        message:
          'cannot tell the row kind: expected "positive"/"negative", "completion"/"label" or "question"/"choices"',
      })
      return
    }
    if (kind !== undefined && rowKind !== kind) {
      issues.push({ line, code: 'mixed-kinds', message: `a ${rowKind} row in a file of ${kind} rows` })
      return
    }
    kind ??= rowKind
    try {
      const parsed = rowParsers[rowKind](row, line)
      const earlier = firstLineOfId.get(parsed.id)
      if (earlier !== undefined) {
        issues.push({
          line,
          code: 'duplicate-id',
          field: 'id',
          message: `id "${parsed.id}" already used on line ${earlier}`,
        })
        return
      }
      firstLineOfId.set(parsed.id, line)
      rows.push(parsed)
    } catch (error) {
      if (!(error instanceof RowError)) throw error
      issues.push({ line, ...error.issue })
    }
  }
}

/** One line per issue, `file:line: message`, at most `limit` lines plus a count of the rest. */
export function formatIssues(source: string, issues: readonly DemonstrationIssue[], limit = 20): string {
  const lines = issues.slice(0, limit).map((issue) => `${source}:${issue.line}: ${issue.message}`)
  if (issues.length > limit) lines.push(`… and ${issues.length - limit} more`)
  return lines.join('\n')
}

/**
 * Read and validate a demonstration file. Throws `invalid-dataset` listing every issue (with line numbers) when any
 * line is rejected, and when the file holds no rows at all.
 */
export async function readDemonstrationFile(
  path: string,
  overrides: Partial<ParseLimits> = {},
): Promise<DemonstrationSet> {
  const limits: ParseLimits = { ...defaultParseLimits, ...overrides }
  // Refused before reading, so an oversized file never reaches memory.
  const size = await stat(path).then(
    (stats) => stats.size,
    () => 0,
  )
  if (size > limits.maxFileBytes) throw tooLarge(path, size, limits)
  const bytes = await readUserFile(path, 'the demonstration file')
  const { set, issues } = parseDemonstrations(bytes, path, limits)
  if (issues.length > 0) {
    throw new TillerError(
      'invalid-dataset',
      `${issues.length} problem(s) in ${path}; fix these lines and try again:\n${formatIssues(path, issues)}`,
      { subject: path },
    )
  }
  if (set.rows.length === 0) {
    throw new TillerError('invalid-dataset', `${path} holds no rows; add one JSON object per line.`, {
      subject: path,
    })
  }
  return set
}
