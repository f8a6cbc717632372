/**
 * The workspace's demonstration sets as documents: open a `.jsonl` file of `datasets/` as editable rows, write rows
 * back atomically (the previous file kept as a numbered version under `.versions/<name>/`), convert imports, and
 * export. Every issue comes from `validateForFit`, the validator the fit itself runs.
 */
import { existsSync } from 'node:fs'
import { mkdir, readdir, readFile, rm } from 'node:fs/promises'
import { join } from 'node:path'
import type { DemonstrationDocument, DemonstrationRow } from '../../../shared/demonstrations.ts'
import type { DatasetIssue } from '../../../shared/steering.ts'
import { validateForFit } from '../data/fit-validation.ts'
import { TillerError } from '../errors.ts'
import { writeFileAtomic } from '../workspace/atomic-write.ts'
import { previewDataset } from './dataset-catalog.ts'
import { jsonLines } from './json-lines.ts'

/** Rows of a read-only set shown with its document. */
const previewRows = 200

/** The file of set `name` in `folder`. */
export function datasetPath(folder: string, name: string): string {
  return join(folder, `${name}.jsonl`)
}

/** A row as one JSONL line: the schema's key order, empty split and tags left out. */
function rowRecord(row: DemonstrationRow): Record<string, unknown> {
  const record: Record<string, unknown> = {
    id: row.id,
    prompt: row.prompt,
    positive: row.positive,
    negative: row.negative,
  }
  if (row.split !== null && row.split !== '') record['split'] = row.split
  if (row.tags.length > 0) record['tags'] = row.tags
  return record
}

/** The JSONL text of rows: row i on line i + 1, so issue lines map back to rows. */
export function rowsJsonl(rows: readonly DemonstrationRow[]): string {
  return rows.map((row) => JSON.stringify(rowRecord(row)) + '\n').join('')
}

/** Issues the fit would refuse `rows` for (issue line i + 1 is row i; line 0 is the whole set). */
export function validateRows(rows: readonly DemonstrationRow[], source: string): DatasetIssue[] {
  return validateForFit(new TextEncoder().encode(rowsJsonl(rows)), source).issues
}

function text(value: unknown): string {
  if (typeof value === 'string') return value
  return value === undefined || value === null ? '' : JSON.stringify(value)
}

/**
 * Every non-blank line of a pairs file as an editable row, leniently: a line that is not a JSON object keeps its
 * text in `prompt`, so nothing the user wrote disappears; the issues list says what is wrong with it.
 */
function editableRows(bytes: Uint8Array): DemonstrationRow[] {
  const rows: DemonstrationRow[] = []
  for (const { text: line, value } of jsonLines(bytes)) {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      rows.push({ id: '', prompt: line, positive: '', negative: '', split: null, tags: [] })
      continue
    }
    const record = value as Record<string, unknown>
    rows.push({
      id: text(record['id']),
      prompt: text(record['prompt']),
      positive: text(record['positive']),
      negative: text(record['negative']),
      split: typeof record['split'] === 'string' ? record['split'] : null,
      tags: Array.isArray(record['tags']) ? record['tags'].map(text) : [],
    })
  }
  return rows
}

async function versionCount(folder: string, name: string): Promise<number> {
  const versions = join(folder, '.versions', name)
  if (!existsSync(versions)) return 0
  return (await readdir(versions)).filter((file) => file.endsWith('.jsonl')).length
}

function missing(name: string): TillerError {
  return new TillerError(
    'file-not-found',
    `There is no demonstration set "${name}" in the workspace; create or import it.`,
    {
      subject: 'name',
    },
  )
}

/** Open set `name` of `folder`: pairs files (and empty or broken ones) as rows, other kinds read-only. */
export async function openDocument(folder: string, name: string): Promise<DemonstrationDocument> {
  const path = datasetPath(folder, name)
  if (!existsSync(path)) throw missing(name)
  const preview = await previewDataset(path, previewRows, null)
  const bytes = await readFile(path)
  const { set, issues } = validateForFit(bytes, path)
  const editable = set.rows.length === 0 ? preview.entry.kind !== 'text' : set.kind === 'pairs'
  return {
    entry: preview.entry,
    rows: editable ? editableRows(bytes) : [],
    editable,
    preview: editable ? [] : preview.rows,
    issues,
    version: await versionCount(folder, name),
  }
}

/** Write `content` as set `name`, keeping the file it replaces as the next numbered version. */
async function writeVersioned(folder: string, name: string, content: string): Promise<void> {
  const path = datasetPath(folder, name)
  await mkdir(folder, { recursive: true })
  if (existsSync(path)) {
    const versions = join(folder, '.versions', name)
    await mkdir(versions, { recursive: true })
    const next = (await versionCount(folder, name)) + 1
    await writeFileAtomic(join(versions, `${String(next).padStart(4, '0')}.jsonl`), await readFile(path))
  }
  await writeFileAtomic(path, content)
}

/** Save rows as set `name`; `create` refuses a name that exists. Invalid rows are saved too, and flagged. */
export async function saveDocument(
  folder: string,
  name: string,
  rows: readonly DemonstrationRow[],
  create: boolean,
): Promise<DemonstrationDocument> {
  if (create && existsSync(datasetPath(folder, name))) {
    throw new TillerError(
      'invalid-argument',
      `A demonstration set named "${name}" exists already; choose another name.`,
      {
        subject: 'name',
      },
    )
  }
  await writeVersioned(folder, name, rowsJsonl(rows))
  return openDocument(folder, name)
}

/** Save imported JSONL text as a new set `name` (refused when the name is taken or the text holds no row). */
export async function saveImported(
  folder: string,
  name: string,
  content: string,
  source: string,
): Promise<DemonstrationDocument> {
  if (existsSync(datasetPath(folder, name))) {
    throw new TillerError(
      'invalid-argument',
      `A demonstration set named "${name}" exists already; choose another name for the import.`,
      { subject: 'name' },
    )
  }
  if (content.trim() === '') {
    throw new TillerError('invalid-dataset', `${source} holds no rows to import.`, { subject: 'paths' })
  }
  await writeVersioned(folder, name, content)
  return openDocument(folder, name)
}

/** Delete set `name` and its versions. */
export async function deleteDocument(folder: string, name: string): Promise<boolean> {
  const path = datasetPath(folder, name)
  if (!existsSync(path)) return false
  await rm(path)
  await rm(join(folder, '.versions', name), { recursive: true, force: true })
  return true
}
