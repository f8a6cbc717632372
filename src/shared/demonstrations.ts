/**
 * Plain data of the Demonstrations screen: the workspace's demonstration sets as editable tables, what an import
 * reads, and the rendered template text of one row with its token spans.
 */
import type { DatasetEntry, DatasetIssue, DatasetRow } from './steering.ts'

/** One editable contrast pair, as the table shows it. Blank fields are kept so the validator can flag them. */
export interface DemonstrationRow {
  id: string
  prompt: string
  positive: string
  negative: string
  /** `train`, `validation`, `test`, or null (counts as train). */
  split: string | null
  tags: string[]
}

/** A workspace demonstration set opened for editing. */
export interface DemonstrationDocument {
  entry: DatasetEntry
  /** Pair rows in file order; row i is line i + 1 of the saved file. Empty when the file is not editable. */
  rows: DemonstrationRow[]
  /** False for sets of other kinds (labelled, multiple choice): shown read-only in `preview`. */
  editable: boolean
  /** The first rows of a read-only set. */
  preview: DatasetRow[]
  /** What the fit would refuse, by line (0: the whole file). */
  issues: DatasetIssue[]
  /** Saves so far; each earlier version is kept under `datasets/.versions/<name>/`. */
  version: number
}

/** Formats `demonstrations:import` reads. */
export const importFormats = ['jsonl', 'csv', 'truthfulqa', 'caa', 'plain-text', 'pairs-from-mc'] as const
export type ImportFormat = (typeof importFormats)[number]

/** One token of a rendered row and the part it belongs to. */
export interface RenderedToken {
  id: number
  text: string
  part: 'prompt' | 'completion' | 'after'
}

/** One rendered side of a pair: the exact text the model reads, and its tokens. */
export interface RenderedSide {
  text: string
  tokens: RenderedToken[]
}

/** `demonstrations:render`'s answer. */
export interface RenderPreview {
  /** `chat-template`, `plain` (the model has no template). */
  format: string
  positive: RenderedSide
  negative: RenderedSide
}
