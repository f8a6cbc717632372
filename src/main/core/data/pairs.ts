/**
 * Contrast pairs: the positive/negative examples a contrastive method fits on, from either pair rows or labelled rows.
 */
import { TillerError } from '../errors.ts'
import type { DemonstrationSet, Split } from './schema.ts'

/** One side of a contrast: a prompt (user turn, may be empty) and a completion (assistant turn). */
export interface ContrastSide {
  prompt: string
  completion: string
}

/** A positive and a negative example that are compared with each other. */
export interface ContrastPair {
  id: string
  /** Source lines, for messages: one for a pair row, the positive's then the negative's for labelled rows. */
  lines: number[]
  positive: ContrastSide
  negative: ContrastSide
}

/**
 * The contrast pairs of a set, optionally restricted to one split (rows without a split count as `train`).
 *
 * Pair rows map one to one. Labelled rows are matched in file order: the k-th positive with the k-th negative; the
 * counts must agree, otherwise this throws naming the counts (no row is dropped quietly). Choice rows are
 * evaluation items and cannot be fitted on.
 */
export function contrastPairs(set: DemonstrationSet, split?: Split): ContrastPair[] {
  const inSplit = (rowSplit: Split | undefined) => split === undefined || (rowSplit ?? 'train') === split
  switch (set.kind) {
    case 'pairs':
      return set.rows
        .filter((row) => inSplit(row.split))
        .map((row) => ({
          id: row.id,
          lines: [row.line],
          positive: { prompt: row.prompt, completion: row.positive },
          negative: { prompt: row.prompt, completion: row.negative },
        }))
    case 'labelled': {
      const rows = set.rows.filter((row) => inSplit(row.split))
      const positives = rows.filter((row) => row.label === 'positive')
      const negatives = rows.filter((row) => row.label === 'negative')
      if (positives.length !== negatives.length) {
        throw new TillerError(
          'invalid-dataset',
          `${set.source} has ${positives.length} positive and ${negatives.length} negative rows` +
            `${split === undefined ? '' : ` in split "${split}"`}; a contrastive fit pairs them in file order, ` +
            'so the counts must be equal.',
          { subject: set.source },
        )
      }
      return positives.map((positive, index) => {
        const negative = negatives[index] as (typeof negatives)[number]
        return {
          id: `${positive.id}|${negative.id}`,
          lines: [positive.line, negative.line],
          positive: { prompt: positive.prompt, completion: positive.completion },
          negative: { prompt: negative.prompt, completion: negative.completion },
        }
      })
    }
    case 'choices':
      throw new TillerError(
        'invalid-dataset',
        `${set.source} holds multiple-choice items (question/choices/correct); fitting needs positive/negative ` +
          'pairs or labelled completions.',
        { subject: set.source },
      )
  }
}
