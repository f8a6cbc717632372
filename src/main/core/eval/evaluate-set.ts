import { readFile } from 'node:fs/promises'
import { extname } from 'node:path'
import type { ExecutionProviderChoice } from '../../../shared/engine-status.ts'
import { parseDemonstrations } from '../data/jsonl.ts'
import type { ChoiceRow, Split } from '../data/schema.ts'
import { loadRenderTokenizer } from '../data/tokenizer.ts'
import { loadSteeredModel, readEditsFor } from '../edits/steered-generation.ts'
import { TillerError } from '../errors.ts'
import { loadModel } from '../runtime/model.ts'
import { encodeChoiceRows, encodeTexts, type ChoiceRenderOptions } from './choice-encoding.ts'
import { checkChoiceItems, checkChoiceLengths } from './choice-validation.ts'
import { plainChoiceScorer, plainForward, steeredChoiceScorer, steeredForward } from './steered-scoring.ts'
import { strengthGrid, sweepStrengths, type SweepPoint } from './strength-sweep.ts'
import { variantGraphFile } from '../models/variants.ts'

/**
 * `tiller eval` as a core function: read a multiple-choice set (optionally one split), check it, load the model
 * (steered when edits are given), and sweep the strengths with fluency on reference texts. Every refusal is one
 * line naming the file, item or field.
 */

/** What to evaluate. */
export interface SetEvaluationRequest {
  folder: string
  provider?: ExecutionProviderChoice
  /** A Transformers.js graph variant (`q4`, `fp16`, …); default the folder's default graph. */
  variant?: string
  data: string
  edits?: readonly string[]
  strengths?: readonly number[]
  split?: Split
  /** Reference texts: a .jsonl file of {text} rows (its `split` filtered like the items) or plain text. */
  text?: string
  render?: ChoiceRenderOptions
  batchRows?: number
  seed?: number
}

/** The sweep and what it ran on. */
export interface SetEvaluation {
  data: string
  split: Split | undefined
  items: number
  text: string | undefined
  texts: number
  edits: string[]
  points: SweepPoint[]
}

/** The id of the row on 1-based `line`, when that line is JSON with a string id. */
function rowId(bytes: Uint8Array, line: number): string | undefined {
  try {
    const row = JSON.parse(new TextDecoder().decode(bytes).split('\n')[line - 1] ?? '') as { id?: unknown }
    return typeof row.id === 'string' ? row.id : undefined
  } catch {
    return undefined
  }
}

/** The items of a JSONL file (first problem reported on one line), restricted to `split`. */
export async function readChoiceItems(path: string, split?: Split): Promise<ChoiceRow[]> {
  let bytes: Uint8Array
  try {
    bytes = await readFile(path)
  } catch {
    throw new TillerError('file-not-found', `Cannot read ${path}; check --data.`, { subject: path })
  }
  const { set, issues } = parseDemonstrations(bytes, path)
  const issue = issues[0]
  if (issue !== undefined) {
    const id = rowId(bytes, issue.line)
    throw new TillerError(
      'invalid-dataset',
      `${path}:${issue.line}: ${id === undefined ? '' : `item ${id} `}${issue.field === undefined ? '' : `field "${issue.field}": `}${issue.message}` +
        (issues.length > 1 ? ` (and ${issues.length - 1} more problem(s))` : ''),
      { subject: `${path}:${issue.line}` },
    )
  }
  if (set.kind !== 'choices') {
    throw new TillerError(
      'invalid-dataset',
      `${path} holds ${set.kind} rows; evaluation needs multiple-choice rows {id, question, choices, correct}.`,
      { subject: path },
    )
  }
  const rows = split === undefined ? set.rows : set.rows.filter((row) => row.split === split)
  if (rows.length === 0) {
    throw new TillerError(
      'invalid-dataset',
      `${path} has no items${split === undefined ? '' : ` with split "${split}"`}; check --data and --split.`,
      { subject: path },
    )
  }
  checkChoiceItems(rows, path)
  return rows
}

/** Reference texts: JSONL rows with a "text" field (filtered by split when rows carry one), or paragraphs. */
export async function readReferenceTexts(path: string, split?: Split): Promise<string[]> {
  let content: string
  try {
    content = await readFile(path, 'utf8')
  } catch {
    throw new TillerError('file-not-found', `Cannot read ${path}; check --text.`, { subject: path })
  }
  if (extname(path).toLowerCase() !== '.jsonl') {
    const paragraphs = content.split(/\r?\n\s*\r?\n/).map((part) => part.trim())
    return paragraphs.filter((part) => part !== '')
  }
  const texts: string[] = []
  content.split('\n').forEach((line, index) => {
    if (line.trim() === '') return
    let row: { text?: unknown; split?: unknown }
    try {
      row = JSON.parse(line) as { text?: unknown; split?: unknown }
    } catch {
      throw new TillerError('invalid-dataset', `${path}:${index + 1}: not JSON.`, {
        subject: `${path}:${index + 1}`,
      })
    }
    if (typeof row.text !== 'string' || row.text.trim() === '') {
      throw new TillerError(
        'invalid-dataset',
        `${path}:${index + 1}: field "text" must be a non-empty string.`,
        {
          subject: `${path}:${index + 1}`,
        },
      )
    }
    if (split === undefined || row.split === undefined || row.split === split) texts.push(row.text)
  })
  return texts
}

/** Evaluate a multiple-choice set at every strength (0 first). */
export async function evaluateChoiceSet(request: SetEvaluationRequest): Promise<SetEvaluation> {
  const strengths = strengthGrid(request.strengths ?? [0], '--strengths')
  const edits = [...(request.edits ?? [])]
  if (edits.length === 0 && strengths.length > 1)
    throw new TillerError('invalid-argument', 'Strengths other than 0 need an edit; pass --edit FILE.', {
      subject: '--strengths',
    })
  const rows = await readChoiceItems(request.data, request.split)
  const texts = request.text === undefined ? [] : await readReferenceTexts(request.text, request.split)
  const tokenizer = await loadRenderTokenizer(request.folder)
  const graphFile =
    request.variant === undefined ? undefined : variantGraphFile(request.folder, request.variant)
  const editList = edits.length === 0 ? [] : await readEditsFor(request.folder, edits, graphFile)
  const steered =
    editList.length === 0
      ? undefined
      : await loadSteeredModel(request.folder, editList, {
          provider: request.provider,
          graphFile,
        })
  const model =
    steered?.model ??
    (await loadModel(request.folder, { provider: request.provider, variant: request.variant }))
  try {
    const items = encodeChoiceRows(rows, tokenizer, request.render)
    checkChoiceLengths(items, model.config.maxPositionEmbeddings, request.data)
    const encodedTexts = encodeTexts(texts, tokenizer, model.config.bosTokenId)
    const points = await sweepStrengths({
      scorer: steered === undefined ? plainChoiceScorer(model) : steeredChoiceScorer(steered),
      forward: steered === undefined ? plainForward(model) : steeredForward(steered),
      items,
      texts: encodedTexts,
      strengths,
      batchRows: request.batchRows,
      maxLength: model.config.maxPositionEmbeddings,
      seed: request.seed,
    })
    return {
      data: request.data,
      split: request.split,
      items: items.length,
      text: request.text,
      texts: encodedTexts.length,
      edits,
      points,
    }
  } finally {
    await model.dispose()
  }
}
