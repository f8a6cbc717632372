/**
 * Importers from public formats into demonstration sets (DESIGN.md §5), validated like JSONL rows so nothing is
 * dropped silently:
 *   CAA A/B JSON    [{question, answer_matching_behavior, answer_not_matching_behavior}, …] (nrimsky/CAA)
 *   plain pairs     two text files, one example per line, positive and negative in the same order
 *                   (llama.cpp cvector-generator's --positive-file / --negative-file; `\n` escapes expanded)
 * Row `line` numbers are the item's 1-based position in the JSON array, or the line in the text files.
 */
import { readFile } from 'node:fs/promises'
import { basename } from 'node:path'
import { TillerError } from '../errors.ts'
import { parseDemonstrations } from './jsonl.ts'
import type { DemonstrationSet } from './schema.ts'

function invalid(source: string, problem: string): TillerError {
  return new TillerError('invalid-dataset', `${source}: ${problem}`, { subject: source })
}

async function readText(path: string): Promise<string> {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(await readFile(path))
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new TillerError('file-not-found', `Cannot read ${path}: no such file.`, { subject: path })
    }
    throw invalid(path, `cannot be read as UTF-8 text (${(error as Error).message}); save it as UTF-8.`)
  }
}

/** Re-validate converted rows through the JSONL validator, mapping its line numbers back to the source's. */
function validate(rows: Record<string, unknown>[], lines: number[], source: string): DemonstrationSet {
  const bytes = new TextEncoder().encode(rows.map((row) => JSON.stringify(row)).join('\n'))
  // Converted rows can be longer than the source's lines; the row limit still applies.
  const { set, issues } = parseDemonstrations(bytes, source, {
    maxLineBytes: Number.MAX_SAFE_INTEGER,
    maxFileBytes: Number.MAX_SAFE_INTEGER,
  })
  if (issues.length > 0) {
    const listed = issues
      .slice(0, 20)
      .map((issue) => `${source}:${lines[issue.line - 1] ?? issue.line}: ${issue.message}`)
    throw invalid(source, `${issues.length} problem(s):\n${listed.join('\n')}`)
  }
  for (const row of set.rows) row.line = lines[row.line - 1] ?? row.line
  return set
}

/**
 * Convert CAA A/B items: prompt = question (with its "(A) … (B) …" options), positive = the answer matching the
 * behaviour (e.g. "(A)"), negative = the other one. Ids are `<file name>-<item number>`.
 */
export function convertCaaItems(value: unknown, source: string): DemonstrationSet {
  if (!Array.isArray(value)) throw invalid(source, 'expected a JSON array of A/B items')
  const stem = basename(source).replace(/\.json$/i, '')
  const rows = value.map((item: unknown, index) => {
    const record = (typeof item === 'object' && item !== null ? item : {}) as Record<string, unknown>
    const field = (key: string) => {
      if (typeof record[key] !== 'string') {
        throw invalid(
          source,
          `item ${index + 1} has no string "${key}"; CAA items need question and both answers.`,
        )
      }
      return record[key] as string
    }
    return {
      id: `${stem}-${index + 1}`,
      prompt: field('question'),
      positive: field('answer_matching_behavior'),
      negative: field('answer_not_matching_behavior'),
    }
  })
  return validate(
    rows,
    rows.map((_, index) => index + 1),
    source,
  )
}

/** Read a CAA A/B JSON file. */
export async function importCaaFile(path: string): Promise<DemonstrationSet> {
  let value: unknown
  try {
    value = JSON.parse(await readText(path))
  } catch (error) {
    if (error instanceof TillerError) throw error
    throw invalid(path, `is not JSON (${(error as Error).message}).`)
  }
  return convertCaaItems(value, path)
}

function expandEscapes(line: string): string {
  return line.replace(/\\n/g, '\n')
}

function nonEmptyLines(text: string): { text: string; line: number }[] {
  return text
    .split(/\r?\n/)
    .map((line, index) => ({ text: expandEscapes(line), line: index + 1 }))
    .filter((entry) => entry.text.trim() !== '')
}

/**
 * Pair two texts line by line (blank lines skipped) into completion-only pairs (`prompt` empty). The counts must
 * be equal; ids are `pair-<n>`.
 */
export function convertPlainPairs(
  positiveText: string,
  negativeText: string,
  source: string,
): DemonstrationSet {
  const positives = nonEmptyLines(positiveText)
  const negatives = nonEmptyLines(negativeText)
  if (positives.length !== negatives.length) {
    throw invalid(
      source,
      `${positives.length} positive and ${negatives.length} negative lines; each positive line needs its negative.`,
    )
  }
  const rows = positives.map((positive, index) => ({
    id: `pair-${index + 1}`,
    prompt: '',
    positive: positive.text,
    negative: (negatives[index] as { text: string }).text,
  }))
  return validate(
    rows,
    positives.map((positive) => positive.line),
    source,
  )
}

/** Read a positive file and a negative file (one example per line). */
export async function importPlainPairs(
  positivePath: string,
  negativePath: string,
): Promise<DemonstrationSet> {
  const [positive, negative] = await Promise.all([readText(positivePath), readText(negativePath)])
  return convertPlainPairs(positive, negative, positivePath)
}
