/**
 * Graph feeds for a left-padded batch (graph-contract): input ids, attention mask and position ids for the prefill
 * pass and for each decode step.
 */
import * as ort from 'onnxruntime-node'
import { graphInputs } from '../models/graph-contract.ts'
import { TillerError } from '../errors.ts'
import type { GraphInterface } from './graph-io.ts'

/** How prompts of different lengths line up in one batch: real tokens sit at the right end of `width` columns. */
export interface BatchLayout {
  batch: number
  /** Longest prompt: the number of columns fed at prefill. */
  width: number
  leftPadding: number[]
  promptLengths: number[]
}

/** Lay out prompt rows; every row must hold at least one token id. */
export function layoutRows(rows: number[][]): BatchLayout {
  if (rows.length === 0)
    throw new TillerError('invalid-argument', 'rows is empty; pass at least one prompt row.')
  rows.forEach((row, index) => {
    if (row.length === 0) {
      throw new TillerError('empty-prompt', `rows[${index}] has no tokens; give every row a prompt.`, {
        subject: `rows[${index}]`,
      })
    }
  })
  const promptLengths = rows.map((row) => row.length)
  const width = Math.max(...promptLengths)
  return {
    batch: rows.length,
    width,
    leftPadding: promptLengths.map((length) => width - length),
    promptLengths,
  }
}

/** Check every id is a valid token of a `vocabSize` vocabulary. */
export function checkTokenIds(rows: number[][], vocabSize: number): void {
  rows.forEach((row, rowIndex) =>
    row.forEach((token, position) => {
      if (!Number.isInteger(token) || token < 0 || token >= vocabSize) {
        throw new TillerError(
          'invalid-argument',
          `rows[${rowIndex}][${position}] is ${token}, not a token id of this model (0..${vocabSize - 1}).`,
          { subject: `rows[${rowIndex}][${position}]` },
        )
      }
    }),
  )
}

/**
 * Prefill feeds: input_ids, attention_mask and (if the graph has it) position_ids, all int64 `[batch, width]`.
 * Padding columns get `padTokenId`, mask 0 and position 0; real tokens count positions from 0.
 */
export function prefillFeeds(
  layout: BatchLayout,
  rows: number[][],
  padTokenId: number,
  graph: GraphInterface,
): Record<string, ort.Tensor> {
  const { batch, width } = layout
  const ids = new BigInt64Array(batch * width)
  const mask = new BigInt64Array(batch * width)
  const positions = new BigInt64Array(batch * width)
  const pad = BigInt(padTokenId)
  for (let row = 0; row < batch; row++) {
    const tokens = rows[row] as number[]
    const padding = layout.leftPadding[row] as number
    for (let column = 0; column < width; column++) {
      const at = row * width + column
      if (column < padding) {
        ids[at] = pad
        continue
      }
      ids[at] = BigInt(tokens[column - padding] as number)
      mask[at] = 1n
      positions[at] = BigInt(column - padding)
    }
  }
  const feeds: Record<string, ort.Tensor> = {
    [graphInputs.inputIds]: new ort.Tensor('int64', ids, [batch, width]),
    [graphInputs.attentionMask]: new ort.Tensor('int64', mask, [batch, width]),
  }
  if (graph.hasPositionIds)
    feeds[graphInputs.positionIds] = new ort.Tensor('int64', positions, [batch, width])
  return feeds
}

/**
 * Decode-step feeds: input_ids and position_ids `[batch, 1]`, attention_mask `[batch, pastLength + 1]`.
 * `tokens[b]` is the token fed for row b (its last generated token).
 */
export function decodeFeeds(
  layout: BatchLayout,
  tokens: ArrayLike<number>,
  pastLength: number,
  graph: GraphInterface,
): Record<string, ort.Tensor> {
  const { batch } = layout
  const total = pastLength + 1
  const ids = new BigInt64Array(batch)
  const positions = new BigInt64Array(batch)
  const mask = new BigInt64Array(batch * total)
  for (let row = 0; row < batch; row++) {
    const padding = layout.leftPadding[row] as number
    ids[row] = BigInt(tokens[row] as number)
    positions[row] = BigInt(pastLength - padding)
    mask.fill(1n, row * total + padding, (row + 1) * total)
  }
  const feeds: Record<string, ort.Tensor> = {
    [graphInputs.inputIds]: new ort.Tensor('int64', ids, [batch, 1]),
    [graphInputs.attentionMask]: new ort.Tensor('int64', mask, [batch, total]),
  }
  if (graph.hasPositionIds) feeds[graphInputs.positionIds] = new ort.Tensor('int64', positions, [batch, 1])
  return feeds
}

/** The scalar `num_logits_to_keep` feed: 1 = last position only, 0 = every position. */
export function logitsToKeepFeed(graph: GraphInterface, keep: 0 | 1): Record<string, ort.Tensor> {
  if (graph.logitsToKeepInput === undefined) return {}
  return { [graph.logitsToKeepInput]: new ort.Tensor('int64', BigInt64Array.of(BigInt(keep)), []) }
}

/** Fail with a clear message when the graph declares inputs (e.g. steering inputs) that `feeds` lacks. */
export function requireExtraInputs(
  graphPath: string,
  graph: GraphInterface,
  feeds: Record<string, ort.Tensor>,
): void {
  for (const name of graph.extraInputNames) {
    if (feeds[name] === undefined) {
      throw new TillerError(
        'invalid-argument',
        `${graphPath} needs the input "${name}", which this request does not provide; pass it through ` +
          'extraInputs or load the plain graph.',
        { subject: name },
      )
    }
  }
}
