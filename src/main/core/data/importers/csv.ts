/**
 * RFC 4180 CSV: comma-separated fields, double-quoted fields may hold commas, newlines and doubled quotes (`""`).
 * Rows end at `\n` or `\r\n` outside quotes; a trailing newline adds no row.
 */

/** One parsed row with the 1-based line it starts on. */
export interface CsvRow {
  fields: string[]
  line: number
}

/** Parse `text`; an unterminated quote is reported with the line it opened on. */
export function parseCsv(text: string): { rows: CsvRow[]; unterminatedQuoteLine?: number } {
  const rows: CsvRow[] = []
  let fields: string[] = []
  let field = ''
  let quoted = false
  let line = 1
  let rowLine = 1
  let quoteLine = 0
  const source = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text
  for (let index = 0; index < source.length; index++) {
    const character = source[index] as string
    if (quoted) {
      if (character === '"' && source[index + 1] === '"') {
        field += '"'
        index++
      } else if (character === '"') {
        quoted = false
      } else {
        if (character === '\n') line++
        field += character
      }
      continue
    }
    if (character === '"' && field === '') {
      quoted = true
      quoteLine = line
    } else if (character === ',') {
      fields.push(field)
      field = ''
    } else if (character === '\n' || (character === '\r' && source[index + 1] === '\n')) {
      if (character === '\r') index++
      fields.push(field)
      rows.push({ fields, line: rowLine })
      fields = []
      field = ''
      line++
      rowLine = line
    } else {
      field += character
    }
  }
  if (quoted) return { rows, unterminatedQuoteLine: quoteLine }
  if (field !== '' || fields.length > 0) {
    fields.push(field)
    rows.push({ fields, line: rowLine })
  }
  return { rows }
}
