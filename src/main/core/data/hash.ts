/**
 * Dataset identity: a canonical JSONL form of a demonstration set and its sha256.
 *
 * The canonical form keeps only the data (not the file's formatting, key order, blank lines or line numbers): one
 * JSON object per row with keys in the schema's order, rows in file order, each line ending in `\n`. Two files
 * that parse to the same rows hash the same; changing any text, id, label, split or tag changes the hash.
 */
import { createHash } from 'node:crypto'
import { kindFields, optionalFields, type DemonstrationSet } from './schema.ts'

/** The canonical JSONL text of a set. */
export function canonicalJsonl(set: DemonstrationSet): string {
  const keys = [...kindFields[set.kind], ...optionalFields]
  let output = ''
  for (const row of set.rows) {
    const record = row as unknown as Record<string, unknown>
    const ordered: Record<string, unknown> = {}
    for (const key of keys) if (record[key] !== undefined) ordered[key] = record[key]
    output += JSON.stringify(ordered) + '\n'
  }
  return output
}

/** sha256 (hex) of the canonical JSONL, and the number of rows: what an edit file records as its dataset. */
export function hashDemonstrations(set: DemonstrationSet): { hash: string; size: number } {
  return {
    hash: createHash('sha256').update(canonicalJsonl(set), 'utf8').digest('hex'),
    size: set.rows.length,
  }
}
