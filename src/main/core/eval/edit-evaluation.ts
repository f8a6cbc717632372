/**
 * The studio's evaluation of one edit (`evaluation:run`), with honest selection (issue #14): a strength sweep on
 * the validation items and validation reference texts chooses the strength — the most accurate one whose
 * perplexity stays within the fluency limit of the base's — and the final numbers come from the test items and
 * test texts, never used for choosing. Side effects are the other behaviours' test items at the chosen strength.
 */
import type { EvaluationRun, SideEffectRow, SweepRow, TestMeasurement } from '../../../shared/evaluation.ts'
import type { Split } from '../data/schema.ts'
import type { RenderTokenizer } from '../data/render.ts'
import type { SteeredModel } from '../edits/steered-generation.ts'
import { TillerError } from '../errors.ts'
import { encodeChoiceRows, encodeTexts, type ChoiceRenderOptions } from './choice-encoding.ts'
import { checkChoiceLengths } from './choice-validation.ts'
import { readChoiceItems, readReferenceTexts } from './evaluate-set.ts'
import { steeredChoiceScorer, steeredForward } from './steered-scoring.ts'
import { strengthGrid, sweepStrengths, type SweepPoint } from './strength-sweep.ts'

/** What to evaluate. */
export interface EditEvaluationRequest {
  /** The model with the edit compiled in (any strength per row; 0 is the base exactly). */
  steered: SteeredModel
  tokenizer: RenderTokenizer
  /** The target behaviour's multiple-choice file, with `validation` and `test` items. */
  data: string
  /** Other behaviours' multiple-choice files; their test items measure side effects. */
  sideSets?: readonly string[]
  /** Neutral reference texts (.jsonl {text, split}); fluency is skipped without them. */
  text?: string
  /** The sweep's strengths (0 is added). */
  strengths: readonly number[]
  /** Share of perplexity growth over the base that still counts as fluent. */
  fluencyLimit: number
  /** At most this many items (and texts) per split and set, the first in file order. */
  itemLimit?: number
  render?: ChoiceRenderOptions
  seed?: number
  signal?: AbortSignal
  onProgress?: (fraction: number, message: string) => void
}

/** The run's measured part (the caller adds identity, model, edit and where it is saved). */
export type EditEvaluation = Omit<EvaluationRun, 'id' | 'created' | 'model' | 'edit' | 'dataset' | 'path'>

function throwIfCancelled(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new TillerError('cancelled', 'The evaluation was cancelled.')
}

function sweepRow(point: SweepPoint, basePerplexity: number | null, limit: number): SweepRow {
  const perplexity = point.fluency?.perplexity ?? null
  return {
    strength: point.strength,
    mc1: point.choices.mc1,
    mc2: point.choices.mc2,
    perplexity,
    klFromBase: point.klFromBase ?? null,
    fluent: perplexity === null || basePerplexity === null || perplexity <= basePerplexity * (1 + limit),
  }
}

/**
 * The strength to report: among fluent non-zero strengths, the best validation MC1, then MC2, then the smaller
 * magnitude; 0 (the base) when none is fluent.
 */
export function chooseStrength(
  sweep: readonly SweepRow[],
  limit: number,
): { strength: number; reason: string } {
  const candidates = sweep.filter((row) => row.strength !== 0 && row.fluent)
  if (candidates.length === 0) {
    return {
      strength: 0,
      reason: `No strength kept perplexity within +${100 * limit} % of the base on validation texts; reporting the base.`,
    }
  }
  const better = (first: SweepRow, second: SweepRow): boolean =>
    first.mc1.value !== second.mc1.value
      ? first.mc1.value > second.mc1.value
      : first.mc2.value !== second.mc2.value
        ? first.mc2.value > second.mc2.value
        : Math.abs(first.strength) < Math.abs(second.strength)
  let best = candidates[0] as SweepRow
  for (const row of candidates) if (better(row, best)) best = row
  return {
    strength: best.strength,
    reason:
      `Strength ${best.strength} has the best validation MC1 (${(100 * best.mc1.value).toFixed(1)} %) among the ` +
      `strengths whose perplexity stays within +${100 * limit} % of the base.`,
  }
}

function measurement(point: SweepPoint): TestMeasurement {
  return {
    strength: point.strength,
    mc1: point.choices.mc1,
    mc2: point.choices.mc2,
    perplexity: point.fluency?.perplexity ?? null,
    bitsPerByte: point.fluency?.bitsPerByte ?? null,
    klFromBase: point.strength === 0 ? null : (point.klFromBase ?? null),
  }
}

/** The item file's name without `.jsonl`, and its behaviour (the name's first dot-separated part). */
export function itemSetName(path: string): { name: string; behaviour: string } {
  const name = (path.split(/[\\/]/).at(-1) ?? path).replace(/\.jsonl$/i, '')
  return { name, behaviour: name.split('.')[0] ?? name }
}

/** Evaluate the edit compiled into `request.steered`. */
export async function evaluateEdit(request: EditEvaluationRequest): Promise<EditEvaluation> {
  const { steered, signal } = request
  const strengths = strengthGrid(request.strengths)
  const config = steered.model.config
  const limit = (values: readonly string[] | readonly object[]) =>
    request.itemLimit === undefined ? values.length : Math.min(values.length, request.itemLimit)
  const items = async (path: string, split: Split) => {
    const rows = await readChoiceItems(path, split)
    const encoded = encodeChoiceRows(rows.slice(0, limit(rows)), request.tokenizer, request.render)
    checkChoiceLengths(encoded, config.maxPositionEmbeddings, path)
    return encoded
  }
  const texts = async (split: Split) => {
    if (request.text === undefined) return []
    const all = await readReferenceTexts(request.text, split)
    return encodeTexts(all.slice(0, limit(all)), request.tokenizer, config.bosTokenId)
  }
  const sweep = (
    encoded: Awaited<ReturnType<typeof items>>,
    reference: Awaited<ReturnType<typeof texts>>,
    grid: readonly number[],
  ) =>
    sweepStrengths({
      scorer: steeredChoiceScorer(steered),
      forward: steeredForward(steered),
      items: encoded,
      texts: reference,
      strengths: grid,
      maxLength: config.maxPositionEmbeddings,
      seed: request.seed,
    })
  const sideSets = request.sideSets ?? []
  const stages = 2 + sideSets.length

  request.onProgress?.(0, `Sweeping ${strengths.length} strengths on validation items…`)
  const validationItems = await items(request.data, 'validation')
  const validationTexts = await texts('validation')
  const validationPoints = await sweep(validationItems, validationTexts, strengths)
  throwIfCancelled(signal)
  const basePerplexity = validationPoints[0]?.fluency?.perplexity ?? null
  const rows = validationPoints.map((point) => sweepRow(point, basePerplexity, request.fluencyLimit))
  const chosen = chooseStrength(rows, request.fluencyLimit)
  const reported = chosen.strength === 0 ? [0] : [0, chosen.strength]

  request.onProgress?.(1 / stages, `Measuring strength ${chosen.strength} on test items…`)
  const testItems = await items(request.data, 'test')
  const testTexts = await texts('test')
  const testPoints = await sweep(testItems, testTexts, reported)
  throwIfCancelled(signal)
  const base = testPoints[0] as SweepPoint
  const edited = testPoints[1] ?? base

  const sideEffects: SideEffectRow[] = []
  for (const [index, side] of sideSets.entries()) {
    const { name, behaviour } = itemSetName(side)
    request.onProgress?.((2 + index) / stages, `Side effects on ${name}…`)
    const sideItems = await items(side, 'test')
    const points = await sweep(sideItems, [], reported)
    throwIfCancelled(signal)
    const sideBase = points[0] as SweepPoint
    sideEffects.push({
      dataset: name,
      behaviour,
      items: sideItems.length,
      base: sideBase.choices.mc1,
      edited: (points[1] ?? sideBase).choices.mc1,
    })
  }
  const chance = base.choices.chance
  const { falseToTrue, trueToFalse, remainsTrue, remainsFalse } = edited.shift
  return {
    chance: { mc1: chance.mc1, mc2: chance.mc2, choiceCounts: chance.choiceCounts },
    fluencyLimit: request.fluencyLimit,
    validation: { items: validationItems.length, texts: validationTexts.length, sweep: rows },
    chosenStrength: chosen.strength,
    choiceReason: chosen.reason,
    test: {
      items: testItems.length,
      texts: testTexts.length,
      base: measurement(base),
      edited: measurement(edited),
      shift: { items: testItems.length, falseToTrue, trueToFalse, remainsTrue, remainsFalse },
    },
    sideEffects,
  }
}
