import { TillerError } from '../errors.ts'
import type { ChoiceScorer, EncodedChoiceItem, StrengthForward } from './choice-scorer.ts'
import { summarizeChoices, type ChoiceSummary } from './choice-summary.ts'
import { fluencyAtStrengths, type EncodedText, type FluencyResult } from './fluency.ts'
import { shiftTable, type ShiftTable } from './shift-table.ts'

/**
 * A strength sweep: target metrics (MC1/MC2/MC3, shift vs strength 0) and fluency metrics (perplexity, bits per
 * byte, KL from the base) at every strength, the strengths running as rows of the same batches through one
 * steered graph (row strength 0 is the base model exactly).
 */

/** Everything measured at one strength. */
export interface SweepPoint {
  strength: number
  choices: ChoiceSummary
  /** Per-item MC1 against strength 0's. */
  shift: ShiftTable
  /** Absent when no reference text was given. */
  fluency?: FluencyResult
  /** Mean KL(base ‖ edited) per predicted reference token, nats; absent without reference text. */
  klFromBase?: number
}

/** What a sweep runs. */
export interface SweepRequest {
  scorer: ChoiceScorer
  /** Needed when `texts` is non-empty. */
  forward?: StrengthForward
  items: readonly EncodedChoiceItem[]
  texts?: readonly EncodedText[]
  strengths: readonly number[]
  /** Rows per forward call for texts (default 32). */
  batchRows?: number
  /** Longest row the model takes. */
  maxLength?: number
  /** Bootstrap seed (default 0). */
  seed?: number
}

/**
 * Check a strength grid: finite numbers only (the message names the entry), no repeats. Returns the grid with 0
 * first (added when missing), since the base is what shifts and KL are measured from.
 */
export function strengthGrid(strengths: readonly number[], field = 'strengths'): number[] {
  strengths.forEach((strength, index) => {
    if (!Number.isFinite(strength)) {
      throw new TillerError(
        'invalid-argument',
        `${field} entry ${index + 1} is ${String(strength)}; give finite numbers, e.g. 0,1,2.`,
        { subject: field },
      )
    }
  })
  if (new Set(strengths).size !== strengths.length) {
    throw new TillerError('invalid-argument', `${field} repeats a value (${strengths.join(', ')}).`, {
      subject: field,
    })
  }
  return [0, ...strengths.filter((strength) => strength !== 0)]
}

/** Measure every strength of `request.strengths` (0 is added first when missing). */
export async function sweepStrengths(request: SweepRequest): Promise<SweepPoint[]> {
  const strengths = strengthGrid(request.strengths)
  const scores = await request.scorer(request.items, strengths)
  const summaries = strengths.map((_, strengthIndex) =>
    summarizeChoices(
      request.items,
      scores.map((item) => item[strengthIndex] ?? []),
      request.seed,
    ),
  )
  const texts = request.texts ?? []
  let fluency: Awaited<ReturnType<typeof fluencyAtStrengths>> | undefined
  if (texts.length > 0) {
    if (request.forward === undefined)
      throw new TillerError('internal', 'A sweep with reference texts needs a forward.')
    fluency = await fluencyAtStrengths(request.forward, texts, strengths, {
      batchRows: request.batchRows,
      maxLength: request.maxLength,
    })
  }
  const base = (summaries[0] as ChoiceSummary).items.map((item) => item.mc1)
  return strengths.map((strength, index) => {
    const choices = summaries[index] as ChoiceSummary
    const point: SweepPoint = {
      strength,
      choices,
      shift: shiftTable(
        base,
        choices.items.map((item) => item.mc1),
      ),
    }
    const measured = fluency?.[index]
    if (measured !== undefined) {
      point.fluency = measured.fluency
      point.klFromBase = measured.klFromBase
    }
    return point
  })
}
