/**
 * Contrast pairs as a spreadsheet: a CSV file whose header names the columns `prompt`, `positive`, `negative` and
 * optionally `id`, `split` and `tags` (tags separated by `;`), in any order. Rows are converted as they are (blank
 * cells stay blank) so the studio's table can flag each bad row on its line instead of refusing the whole file.
 */
import type { DemonstrationRow } from '../../../../shared/demonstrations.ts'
import { TillerError } from '../../errors.ts'
import { parseCsv } from './csv.ts'

const requiredColumns = ['prompt', 'positive', 'negative'] as const
const columns = ['id', ...requiredColumns, 'split', 'tags'] as const

/** Rows of a pairs CSV; refuses a file without a header naming the three text columns. */
export function pairsFromCsv(text: string, source: string): DemonstrationRow[] {
  const parsed = parseCsv(text)
  if (parsed.unterminatedQuoteLine !== undefined) {
    throw new TillerError(
      'invalid-dataset',
      `${source}:${parsed.unterminatedQuoteLine}: a quoted cell is never closed; close the quote.`,
      { subject: source },
    )
  }
  const [header, ...body] = parsed.rows
  const names = (header?.fields ?? []).map((name) => name.trim().toLowerCase())
  const absent = requiredColumns.filter((name) => !names.includes(name))
  if (absent.length > 0) {
    throw new TillerError(
      'invalid-dataset',
      `${source}: the first line must name the columns prompt, positive and negative (missing: ${absent.join(', ')}).`,
      { subject: source },
    )
  }
  const position = Object.fromEntries(columns.map((name) => [name, names.indexOf(name)]))
  const cell = (fields: string[], name: (typeof columns)[number]) => {
    const index = position[name] ?? -1
    return index < 0 ? '' : (fields[index] ?? '')
  }
  return body
    .filter((row) => row.fields.some((field) => field.trim() !== ''))
    .map((row, index) => {
      const split = cell(row.fields, 'split').trim()
      const tags = cell(row.fields, 'tags')
        .split(';')
        .map((tag) => tag.trim())
        .filter((tag) => tag !== '')
      return {
        id: cell(row.fields, 'id').trim() || `row-${index + 1}`,
        prompt: cell(row.fields, 'prompt'),
        positive: cell(row.fields, 'positive'),
        negative: cell(row.fields, 'negative'),
        split: split === '' ? null : split,
        tags,
      }
    })
}

function quoted(value: string): string {
  return /[",\r\n]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value
}

/** The CSV text of rows (RFC 4180, CRLF-free), readable back by `pairsFromCsv`. */
export function pairsToCsv(rows: readonly DemonstrationRow[]): string {
  const lines = [columns.join(',')]
  for (const row of rows) {
    const values = [row.id, row.prompt, row.positive, row.negative, row.split ?? '', row.tags.join(';')]
    lines.push(values.map(quoted).join(','))
  }
  return lines.join('\n') + '\n'
}
