/**
 * The one validator a demonstration file passes before a fit: the line checks of `jsonl.ts` plus the checks on the
 * set as a whole that used to run only inside the fit (labelled rows that cannot be paired, multiple-choice items,
 * no training rows). The studio's preview and the fit pipeline both call `fitIssues`, so a file the preview shows
 * as clean is a file the fit accepts, and every row the fit would refuse is flagged on its line before fitting.
 */
import { stat } from 'node:fs/promises'
import { TillerError } from '../errors.ts'
import { formatIssues, parseDemonstrations, type ParseResult } from './jsonl.ts'
import { contrastPairs } from './pairs.ts'
import { readUserFile } from '../workspace/read-file.ts'
import { defaultParseLimits, type DemonstrationIssue, type DemonstrationSet } from './schema.ts'

const inTrainingSplit = (split: string | undefined): boolean => (split ?? 'train') === 'train'

/** Issues of a parsed set as a whole, on the lines they concern (0: the whole file). */
export function setIssues(set: DemonstrationSet): DemonstrationIssue[] {
  if (set.rows.length === 0) {
    return [
      { line: 0, code: 'no-training-rows', message: 'the file holds no valid rows; add one row per line' },
    ]
  }
  // Multiple-choice files are evaluation items: their kind (shown beside the file) says they are not fitted on,
  // and the fit refuses them by kind in `contrastPairs`; they have no row to flag.
  if (set.kind === 'choices') return []
  const issues: DemonstrationIssue[] = []
  if (set.kind === 'labelled') {
    // Labelled rows pair in file order, k-th positive with k-th negative, separately in every split: rows past
    // the shorter side's count have no partner.
    for (const split of ['train', 'validation', 'test'] as const) {
      const rows = set.rows.filter((row) => (row.split ?? 'train') === split)
      const positives = rows.filter((row) => row.label === 'positive')
      const negatives = rows.filter((row) => row.label === 'negative')
      const paired = Math.min(positives.length, negatives.length)
      for (const row of [...positives.slice(paired), ...negatives.slice(paired)]) {
        const missing = row.label === 'positive' ? 'negative' : 'positive'
        issues.push({
          line: row.line,
          code: 'unpaired',
          field: 'label',
          message:
            `this ${row.label} row has no ${missing} partner in split "${split}" (${positives.length} positive, ` +
            `${negatives.length} negative); add a ${missing} row or remove this one`,
        })
      }
    }
  }
  if (!set.rows.some((row) => inTrainingSplit(row.split))) {
    issues.push({
      line: 0,
      code: 'no-training-rows',
      message: 'no row is in the training split (split "train" or no split); a fit needs at least one',
    })
  }
  return issues.sort((first, second) => first.line - second.line)
}

/** Every issue a fit would refuse `bytes` for: line issues, then set issues, ordered by line. */
export function fitIssues(parsed: ParseResult): DemonstrationIssue[] {
  const whole = parsed.issues.length === 0 || parsed.set.rows.length > 0 ? setIssues(parsed.set) : []
  return [...parsed.issues, ...whole].sort((first, second) => first.line - second.line)
}

/** Parse and validate JSONL bytes for fitting: the set and every issue. */
export function validateForFit(bytes: Uint8Array, source: string): ParseResult {
  const parsed = parseDemonstrations(bytes, source)
  return { set: parsed.set, issues: fitIssues(parsed) }
}

/** The refusal a fit raises for a set with issues: one line per issue, file-wide ones without a line number. */
export function fitRefusal(source: string, issues: readonly DemonstrationIssue[]): TillerError {
  const lines = issues.filter((issue) => issue.line > 0)
  const whole = issues.filter((issue) => issue.line === 0).map((issue) => `${source}: ${issue.message}`)
  const listed = [...whole, ...(lines.length > 0 ? [formatIssues(source, lines)] : [])].join('\n')
  return new TillerError(
    'invalid-dataset',
    `${issues.length} problem(s) in ${source}; fix these and try again:\n${listed}`,
    { subject: source },
  )
}

/** A parsed set the fit accepts, or the refusal naming every issue (the check `fitFromDemonstrations` runs). */
export function assertFittable(set: DemonstrationSet): DemonstrationSet {
  const issues = setIssues(set)
  if (issues.length > 0) throw fitRefusal(set.source, issues)
  // contrastPairs checks the same pairing; a disagreement here would be a bug in this file.
  contrastPairs(set, 'train')
  return set
}

/** Read a demonstration file for fitting: refused (every issue listed) unless the preview would show it clean. */
export async function readFittableFile(path: string): Promise<DemonstrationSet> {
  const size = await stat(path).then(
    (stats) => stats.size,
    () => 0,
  )
  if (size > defaultParseLimits.maxFileBytes) {
    throw new TillerError('invalid-dataset', `${path} is over the 64 MB limit; split it.`, { subject: path })
  }
  const { set, issues } = validateForFit(await readUserFile(path, 'the demonstration file'), path)
  if (issues.length > 0) throw fitRefusal(path, issues)
  return set
}
