/**
 * Demonstration sets (DESIGN.md §5): the three row shapes a JSONL file may hold, and the limits parsing enforces.
 *
 * One file holds one kind of row:
 *   pairs        {id, prompt, positive, negative, split?, tags?}   a shared prompt, two contrasting completions
 *   labelled     {id, prompt, completion, label, split?, tags?}   one completion, labelled positive or negative
 *   choices      {id, question, choices[], correct[], split?, tags?} multiple-choice evaluation items
 * `prompt` may be the empty string (completion-only pairs, e.g. ActAdd's "Love" / "Hate" or repeng persona strings);
 * every other text field must hold something other than whitespace.
 */

/** Where a row may be used. */
export const splits = ['train', 'validation', 'test'] as const
/** A row's split name. */
export type Split = (typeof splits)[number]

/** Labels of labelled rows. */
export const labels = ['positive', 'negative'] as const
/** A labelled row's label. */
export type Label = (typeof labels)[number]

/** Fields every row may carry. `line` is the 1-based line of the JSONL file the row came from. */
export interface RowCommon {
  id: string
  line: number
  split?: Split
  tags?: string[]
}

/** A prompt with a positive and a negative completion. */
export interface PairRow extends RowCommon {
  prompt: string
  positive: string
  negative: string
}

/** A prompt with one completion labelled positive or negative. */
export interface LabelledRow extends RowCommon {
  prompt: string
  completion: string
  label: Label
}

/** A multiple-choice evaluation item. */
export interface ChoiceRow extends RowCommon {
  question: string
  choices: string[]
  /** 0-based indices into `choices` of the correct answers, ascending, at least one. */
  correct: number[]
}

/** A parsed demonstration set; `source` names the file (or importer) it came from. */
export type DemonstrationSet =
  | { kind: 'pairs'; source: string; rows: PairRow[] }
  | { kind: 'labelled'; source: string; rows: LabelledRow[] }
  | { kind: 'choices'; source: string; rows: ChoiceRow[] }

/** `pairs`, `labelled` or `choices`. */
export type DemonstrationKind = DemonstrationSet['kind']

/** The fields each kind requires and allows (besides the common ones), in canonical order. */
export const kindFields = {
  pairs: ['id', 'prompt', 'positive', 'negative'],
  labelled: ['id', 'prompt', 'completion', 'label'],
  choices: ['id', 'question', 'choices', 'correct'],
} as const satisfies Record<DemonstrationKind, readonly string[]>

/** Optional fields allowed on every kind, in canonical order. */
export const optionalFields = ['split', 'tags'] as const

/** Limits applied while parsing. */
export interface ParseLimits {
  /** Longest accepted line in bytes (UTF-8), excluding the newline. */
  maxLineBytes: number
  /** Largest accepted file in bytes. */
  maxFileBytes: number
  /** Most non-blank lines (rows, valid or not) a file may hold. */
  maxRows: number
}

/** Rows up to 64 KiB per line, files up to 64 MiB and 100,000 rows (demonstration sets hold hundreds to thousands). */
export const defaultParseLimits: ParseLimits = {
  maxLineBytes: 64 * 1024,
  maxFileBytes: 64 * 1024 * 1024,
  maxRows: 100_000,
}

/** Why a line was rejected. */
export type IssueCode =
  | 'too-long'
  | 'invalid-utf8'
  | 'bad-json'
  | 'not-an-object'
  | 'unknown-kind'
  | 'mixed-kinds'
  | 'missing-field'
  | 'wrong-type'
  | 'empty-field'
  | 'unknown-field'
  | 'duplicate-id'
  | 'invalid-value'
  | 'unpaired'
  | 'no-training-rows'

/** One problem found in a demonstration file, tied to its line (0 when it concerns the whole file). */
export interface DemonstrationIssue {
  line: number
  code: IssueCode
  field?: string
  message: string
}
