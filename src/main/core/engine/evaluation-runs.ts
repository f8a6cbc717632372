/**
 * Evaluation runs saved in the workspace's `runs/` folder as plain JSON (one file per run, written atomically), so
 * the Evaluate screen finds them after a reload or restart. Other reports may share the folder; a run file says
 * what it is in its `format` field.
 */
import { readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { EvaluationRun } from '../../../shared/evaluation.ts'
import { writeFileAtomicCreatingFolder } from '../workspace/atomic-write.ts'
import { workspaceFolder } from '../workspace/workspace-root.ts'

/** The `format` field of an evaluation run file. */
export const evaluationRunFormat = 'tiller-evaluation-run/1'

/** Saved runs and the files in `runs/` that looked like runs but could not be read. */
export interface SavedRuns {
  runs: EvaluationRun[]
  problems: string[]
}

/** A file stem from the time and the edit's label: sortable, readable, safe on every platform. */
export function runId(created: Date, label: string): string {
  const time = created.toISOString().replace(/[:.]/g, '-')
  const stem =
    label
      .replace(/[^\w.-]+/g, '-')
      .replace(/^-+|-+$/g, '')
      .slice(0, 60) || 'edit'
  return `${time}-${stem}`
}

/** Write `run` (without its `path`) to `runs/<id>.json`; returns the run with its path. */
export async function saveRun(
  run: Omit<EvaluationRun, 'path'>,
  folder = workspaceFolder('runs'),
): Promise<EvaluationRun> {
  const path = join(folder, `${run.id}.json`)
  await writeFileAtomicCreatingFolder(
    path,
    JSON.stringify({ format: evaluationRunFormat, ...run }, null, 2) + '\n',
  )
  return { ...run, path }
}

function isRun(value: unknown): value is Omit<EvaluationRun, 'path'> & { format: string } {
  if (typeof value !== 'object' || value === null) return false
  const record = value as Record<string, unknown>
  return (
    record['format'] === evaluationRunFormat &&
    typeof record['id'] === 'string' &&
    typeof record['created'] === 'string' &&
    typeof record['validation'] === 'object' &&
    typeof record['test'] === 'object' &&
    Array.isArray(record['sideEffects'])
  )
}

/** Every evaluation run in `folder`, newest first; unreadable run files are named in `problems`. */
export async function listRuns(folder = workspaceFolder('runs')): Promise<SavedRuns> {
  let names: string[]
  try {
    names = await readdir(folder)
  } catch {
    return { runs: [], problems: [] }
  }
  const runs: EvaluationRun[] = []
  const problems: string[] = []
  for (const name of names.filter((entry) => entry.endsWith('.json')).sort()) {
    const path = join(folder, name)
    let parsed: unknown
    try {
      parsed = JSON.parse(await readFile(path, 'utf8'))
    } catch {
      problems.push(`${path} is not readable JSON; move it away or delete it.`)
      continue
    }
    if (
      typeof parsed === 'object' &&
      parsed !== null &&
      (parsed as { format?: unknown }).format !== evaluationRunFormat
    )
      continue
    if (!isRun(parsed)) {
      problems.push(`${path} is an evaluation run with missing fields; move it away or delete it.`)
      continue
    }
    const { format: _format, ...run } = parsed
    runs.push({ ...run, path })
  }
  runs.sort((first, second) => second.created.localeCompare(first.created))
  return { runs, problems }
}
