/**
 * The demonstration sets the studio offers: the bundled ones under `resources/datasets/` and files the user names,
 * each summarised (kind, rows, training pairs, issues) and previewable with every validation issue on its line.
 *
 * Besides the three fittable kinds of `data/schema.ts`, a file of `{id, text}` rows (the organism's neutral texts)
 * is listed as `text`, so the list shows everything the folder ships.
 */
import { existsSync, statSync } from 'node:fs'
import { readdir, readFile, stat } from 'node:fs/promises'
import { basename, dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import type {
  DatasetEntry,
  DatasetIssue,
  DatasetKind,
  DatasetPreview,
  DatasetRow,
} from '../../../shared/steering.ts'
import { validateForFit } from '../data/fit-validation.ts'
import { jsonLines } from './json-lines.ts'
import { contrastPairs } from '../data/pairs.ts'
import type { DemonstrationSet } from '../data/schema.ts'
import { TillerError } from '../errors.ts'

/** Where the app folder is passed to the desktop engine process (see src/main/app/engine-host-environment.ts). */
const appPathVariable = 'TILLER_APP_PATH'
/** Files larger than this are refused rather than read into memory. */
const maxDatasetBytes = 64 * 1024 * 1024
/** Issues listed in a preview; the rest are counted. */
const maxListedIssues = 50

/** A parsed file: the set, its issues, and text rows when it holds `{id, text}` rows instead. */
interface ParsedFile {
  path: string
  set: DemonstrationSet
  issues: DatasetIssue[]
  textRows: Extract<DatasetRow, { kind: 'text' }>[] | null
}

function isDirectory(path: string): boolean {
  return existsSync(path) && statSync(path).isDirectory()
}

/** `{id, text, split?}` rows, or null when any non-blank line is something else. */
function parseTextRows(bytes: Uint8Array): Extract<DatasetRow, { kind: 'text' }>[] | null {
  const rows: Extract<DatasetRow, { kind: 'text' }>[] = []
  for (const { number, parsed, value } of jsonLines(bytes)) {
    if (!parsed || typeof value !== 'object' || value === null) return null
    const record = value as Record<string, unknown>
    if (typeof record['text'] !== 'string') return null
    const id =
      typeof record['id'] === 'string' || typeof record['id'] === 'number' ? String(record['id']) : ''
    const split = typeof record['split'] === 'string' ? record['split'] : null
    rows.push({ kind: 'text', line: number, id, split, text: record['text'] })
  }
  return rows.length > 0 ? rows : null
}

async function readDatasetFile(path: string): Promise<ParsedFile> {
  let size: number
  try {
    size = (await stat(path)).size
  } catch (error) {
    throw new TillerError(
      'file-not-found',
      `Cannot read the demonstration file ${path}: it does not exist.`,
      {
        subject: path,
        cause: error,
      },
    )
  }
  if (size > maxDatasetBytes) {
    throw new TillerError(
      'invalid-dataset',
      `${path} is ${Math.round(size / 1024 / 1024)} MB; demonstration files up to 64 MB can be opened. Split it.`,
      { subject: path },
    )
  }
  const bytes = await readFile(path)
  // The fit's own validator, so the issues listed are exactly the ones a fit would refuse the file for.
  const { set, issues } = validateForFit(bytes, path)
  const textRows = set.rows.length === 0 ? parseTextRows(bytes) : null
  return { path, set, issues: textRows === null ? issues : [], textRows }
}

function kindOf(file: ParsedFile): DatasetKind {
  if (file.textRows !== null) return 'text'
  return file.set.rows.length === 0 ? 'unknown' : file.set.kind
}

/** Training pairs a fit would use; 0 when the set cannot be paired (MC items, unequal labelled counts). */
function trainPairsOf(file: ParsedFile): number {
  if (file.textRows !== null || file.set.rows.length === 0 || file.set.kind === 'choices') return 0
  try {
    return contrastPairs(file.set, 'train').length
  } catch {
    return 0
  }
}

function entryOf(file: ParsedFile, bundled: boolean): DatasetEntry {
  const name = basename(file.path).replace(/\.jsonl$/i, '')
  return {
    name,
    behaviour: name.split('.')[0] ?? name,
    path: file.path,
    kind: kindOf(file),
    rows: file.textRows?.length ?? file.set.rows.length,
    trainPairs: trainPairsOf(file),
    issues: file.issues.length,
    bundled,
  }
}

function rowsOf(file: ParsedFile, limit: number): DatasetRow[] {
  if (file.textRows !== null) return file.textRows.slice(0, limit)
  const set = file.set
  const common = (row: { line: number; id: string; split?: string }) => ({
    line: row.line,
    id: row.id,
    split: row.split ?? null,
  })
  switch (set.kind) {
    case 'pairs':
      return set.rows.slice(0, limit).map((row) => ({
        kind: 'pairs',
        ...common(row),
        prompt: row.prompt,
        positive: row.positive,
        negative: row.negative,
      }))
    case 'labelled':
      return set.rows.slice(0, limit).map((row) => ({
        kind: 'labelled',
        ...common(row),
        prompt: row.prompt,
        completion: row.completion,
        label: row.label,
      }))
    case 'choices':
      return set.rows.slice(0, limit).map((row) => ({
        kind: 'choices',
        ...common(row),
        question: row.question,
        choices: row.choices,
        correct: row.correct,
      }))
  }
}

/** The `.jsonl` files of a folder, sorted by name. */
async function jsonlFiles(folder: string): Promise<string[]> {
  const names = await readdir(folder)
  return names
    .filter((name) => name.toLowerCase().endsWith('.jsonl'))
    .sort()
    .map((name) => join(folder, name))
}

/**
 * The bundled datasets folder: `<resources>/datasets` in a packaged app, the app folder's `resources/datasets` in
 * the desktop engine, the checkout's `resources/datasets` otherwise; null when none exists.
 */
export function bundledDatasetsDirectory(): string | null {
  const candidates: string[] = []
  const packaged = (process as NodeJS.Process & { resourcesPath?: string }).resourcesPath
  if (typeof packaged === 'string') candidates.push(join(packaged, 'datasets'))
  const appPath = process.env[appPathVariable]
  if (appPath !== undefined) candidates.push(join(appPath, 'resources', 'datasets'))
  const repositoryRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', '..')
  candidates.push(join(repositoryRoot, 'resources', 'datasets'))
  return candidates.find(isDirectory) ?? null
}

/**
 * Summaries of the bundled sets in `bundledDirectory` (when given) and of `userPath`: a file, or every `.jsonl`
 * file of a folder. A user path that does not exist is an error naming it; bundled files that fail to read are
 * skipped (they are Tiller's, and a test checks them).
 */
export async function listDatasets(
  bundledDirectory: string | null,
  userPath?: string,
): Promise<DatasetEntry[]> {
  const entries: DatasetEntry[] = []
  if (bundledDirectory !== null) {
    for (const path of await jsonlFiles(bundledDirectory)) {
      const file = await readDatasetFile(path).catch(() => null)
      if (file !== null) entries.push(entryOf(file, true))
    }
  }
  if (userPath !== undefined) {
    const path = resolve(userPath)
    if (!existsSync(path)) {
      throw new TillerError(
        'file-not-found',
        `${path} does not exist; give a .jsonl file or a folder of them.`,
        {
          subject: 'path',
        },
      )
    }
    const paths = isDirectory(path) ? await jsonlFiles(path) : [path]
    if (paths.length === 0) {
      throw new TillerError('invalid-dataset', `${path} holds no .jsonl files.`, { subject: 'path' })
    }
    for (const file of paths) entries.push(entryOf(await readDatasetFile(file), false))
  }
  return entries
}

/** The first `limit` rows of the file at `path` and its validation issues (the first 50, the rest counted). */
export async function previewDataset(
  path: string,
  limit: number,
  bundledDirectory: string | null,
): Promise<DatasetPreview> {
  const absolute = resolve(path)
  if (isDirectory(absolute)) {
    throw new TillerError('invalid-dataset', `${absolute} is a folder; choose one .jsonl file in it.`, {
      subject: 'path',
    })
  }
  const file = await readDatasetFile(absolute)
  const bundled = bundledDirectory !== null && dirname(absolute) === resolve(bundledDirectory)
  return {
    entry: entryOf(file, bundled),
    rows: rowsOf(file, limit),
    issues: file.issues.slice(0, maxListedIssues),
    moreIssues: Math.max(0, file.issues.length - maxListedIssues),
  }
}
