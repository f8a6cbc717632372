/**
 * The data-set formats of `tiller import` (not a command itself): TruthfulQA CSV, CAA A/B JSON and pairs from
 * multiple-choice JSONL, each converted, validated and written as Tiller JSONL.
 */
import { existsSync } from 'node:fs'
import { canonicalJsonl } from '../../core/data/hash.ts'
import {
  pairsFromChoices,
  type NegativeChoice,
  type PairFormat,
} from '../../core/data/importers/choice-pairs.ts'
import { importTruthfulQa, type TruthfulQaTarget } from '../../core/data/importers/truthfulqa.ts'
import { importCaaFile } from '../../core/data/importers.ts'
import { readDemonstrationFile } from '../../core/data/jsonl.ts'
import type { DemonstrationSet } from '../../core/data/schema.ts'
import { TillerError } from '../../core/errors.ts'
import { writeFileAtomic } from '../../core/workspace/atomic-write.ts'
import { invalidFlag } from './arguments.ts'

/** Formats `tiller import` converts to JSONL. */
export const datasetFormats = ['truthfulqa', 'caa', 'pairs-from-mc'] as const
export type DatasetFormat = (typeof datasetFormats)[number]

export const datasetUsage = `       tiller import truthfulqa FILE.csv --out FILE.jsonl [--to mc1|mc2|pairs] [--negatives each|first]
       tiller import caa FILE.json --out FILE.jsonl
       tiller import pairs-from-mc FILE.jsonl --out FILE.jsonl [--negatives each|first] [--format plain|ab]

Data sets: TruthfulQA's CSV to multiple-choice items (mc1: best answer vs every incorrect one; mc2: all correct vs
all incorrect) or pairs (best answer vs each incorrect one, or the first), questions split 40/10/50 into
train/validation/test by id; CAA's A/B JSON to pairs; multiple-choice JSONL to pairs (first right choice vs each
wrong one, or the first; --format ab writes CAA's form: the choices listed as (A), (B), … in the prompt, the
letters as the two sides).`

/** The flags of data-set imports. */
export interface DatasetFlags {
  out?: string | undefined
  to: string | undefined
  negatives: string | undefined
  format?: string | undefined
  force: boolean
  json: boolean
}

function negativesFlag(value: string | undefined): NegativeChoice {
  if (value === undefined || value === 'each' || value === 'first') return value ?? 'each'
  throw invalidFlag('negatives', value, 'use each or first')
}

async function convert(format: DatasetFormat, file: string, flags: DatasetFlags): Promise<DemonstrationSet> {
  if (format === 'caa') return importCaaFile(file)
  if (format === 'truthfulqa') {
    const to = flags.to ?? 'mc1'
    if (to !== 'mc1' && to !== 'mc2' && to !== 'pairs') throw invalidFlag('to', to, 'use mc1, mc2 or pairs')
    return importTruthfulQa(file, to as TruthfulQaTarget, negativesFlag(flags.negatives))
  }
  const set = await readDemonstrationFile(file)
  if (set.kind !== 'choices') {
    throw new TillerError(
      'invalid-dataset',
      `${file} holds ${set.kind} rows; pairs-from-mc needs multiple-choice rows {id, question, choices, correct}.`,
      { subject: file },
    )
  }
  const pairFormat = flags.format ?? 'plain'
  if (pairFormat !== 'plain' && pairFormat !== 'ab')
    throw invalidFlag('format', pairFormat, 'use plain or ab')
  return pairsFromChoices(set, negativesFlag(flags.negatives), pairFormat as PairFormat)
}

/** Convert `file` from `format` and write it to `--out`; prints a one-line summary (or JSON). */
export async function importDataset(
  format: DatasetFormat,
  file: string,
  flags: DatasetFlags,
): Promise<number> {
  if (flags.out === undefined || flags.out === '')
    throw invalidFlag('out', flags.out, 'give the JSONL file to write')
  if (!flags.force && existsSync(flags.out))
    throw invalidFlag('out', flags.out, 'the file exists; choose another or pass --force')
  const set = await convert(format, file, flags)
  await writeFileAtomic(flags.out, canonicalJsonl(set))
  const splits: Record<string, number> = {}
  for (const row of set.rows) splits[row.split ?? 'none'] = (splits[row.split ?? 'none'] ?? 0) + 1
  if (flags.json) {
    process.stdout.write(
      JSON.stringify({ source: file, out: flags.out, kind: set.kind, rows: set.rows.length, splits }) + '\n',
    )
  } else {
    const counts = Object.entries(splits)
      .map(([split, count]) => `${count} ${split}`)
      .join(', ')
    process.stdout.write(
      `${set.rows.length} ${set.kind} rows (${counts}) from ${file} written to ${flags.out}\n`,
    )
  }
  return 0
}
