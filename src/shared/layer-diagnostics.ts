/**
 * Per-layer diagnostics of a demonstration set as the engine reports them (`diagnostics:layers`, `tiller
 * diagnose`): how well each decoder block separates the positive from the negative side, so a user can choose
 * where to fit.
 */
import type { PositionSelector } from './activations.ts'
import type { HookSite } from './edit.ts'

/** One decoder block's numbers. */
export interface LayerDiagnosticRow {
  /** 0-based decoder block. */
  layer: number
  /** Held-out accuracy of a mean-difference probe fitted on the first half of the pairs, in [0, 1]. */
  probeAccuracy: number
  /**
   * Gap between the sides' mean projections on the mean-difference direction, in units of the pooled
   * within-side standard deviation of those projections (d′; larger separates better).
   */
  separation: number
  /** Mean L2 norm of the captured activations (both sides). */
  meanNorm: number
}

/** The whole report. */
export interface LayerDiagnosticsReport {
  /** The demonstration file. */
  dataset: string
  site: HookSite
  selector: PositionSelector
  /** Training pairs captured (the first `pairs` of the set). */
  pairs: number
  /** Rows per side the probe is scored on (the rest fit it); one per pair, or one per token for per-token positions. */
  heldOutRows: number
  rows: LayerDiagnosticRow[]
  recommendedLayer: number
  /** One sentence saying why that layer. */
  reason: string
}

/** Probe accuracies this close to the best count as tied; the separation then decides. */
export const probeAccuracyTolerance = 0.02

/**
 * The layer to fit at: the best held-out probe accuracy, ties (within `probeAccuracyTolerance`) broken by the
 * larger separation, then by the earlier layer. With three or more blocks the first and last are left out: the
 * first still reads mostly token identity, and an edit at the last reaches only the unembedding, where its
 * separation is inflated by the growing norms. Pure, so the studio and the command line agree.
 */
export function recommendLayer(rows: readonly LayerDiagnosticRow[]): { layer: number; reason: string } {
  if (rows.length === 0) throw new Error('No layers to recommend from.')
  const eligible = rows.length >= 3 ? rows.slice(1, -1) : [...rows]
  const best = Math.max(...eligible.map((row) => row.probeAccuracy))
  const candidates = eligible.filter((row) => row.probeAccuracy >= best - probeAccuracyTolerance)
  let chosen = candidates[0] as LayerDiagnosticRow
  for (const row of candidates) if (row.separation > chosen.separation) chosen = row
  const percent = (value: number): string => `${(100 * value).toFixed(0)} %`
  const among = rows.length >= 3 ? 'inner ' : ''
  const reason =
    candidates.length === 1
      ? `Layer ${chosen.layer} has the best held-out probe accuracy (${percent(chosen.probeAccuracy)}) of the ${among}layers.`
      : `Layer ${chosen.layer} separates the sides most (d′ ${chosen.separation.toFixed(2)}) among the ` +
        `${candidates.length} ${among}layers within ${percent(probeAccuracyTolerance)} of the best probe accuracy ` +
        `(${percent(best)}).`
  return { layer: chosen.layer, reason }
}
