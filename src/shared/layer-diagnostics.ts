/**
 * Per-layer diagnostics of a demonstration set as the engine reports them (`diagnostics:layers`, `tiller
 * diagnose`): how well each decoder block separates the positive from the negative side, so a user can choose
 * where to fit.
 */
import type { PositionSelector } from './activations.ts'
import type { HookSite, MethodId } from './edit.ts'

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
  /**
   * The same mean norm with the fitted edit compiled in at the report's strength (`edited`); absent when no edit
   * was given. Equal to `meanNorm` before the edit's first layer, and bit for bit everywhere at strength 0.
   */
  editedMeanNorm?: number
}

/**
 * How an intervention's direction is read for comparison: a signed unit vector (additive edits' vectors, ITI's
 * head vector, HPR's probe θ) or an unsigned subspace (directional ablation's and PCA projections' bases, SEA's
 * kept singular directions U⁺).
 */
export type DirectionKind = 'vector' | 'subspace'

/** The cosine between the fitted edit's direction and another saved edit's, at one layer and site. */
export interface DirectionCosine {
  layer: number
  site: HookSite
  /** The other edit's id, label (method · data · layers) and method. */
  otherId: string
  otherLabel: string
  otherMethod: MethodId
  /** What was compared on each side. */
  own: DirectionKind
  other: DirectionKind
  /**
   * vector·vector: the signed cosine; vector·subspace: the cosine of the angle between the vector and the
   * subspace (‖B v̂‖, in [0, 1]); subspace·subspace: the cosine of the smallest principal angle (largest singular
   * value of B₁B₂ᵀ, in [0, 1]).
   */
  cosine: number
}

/** The fitted edit the report measured, when one was given. */
export interface EditedDiagnostics {
  editId: string
  method: MethodId
  /** The strength the edit was compiled in at. */
  strength: number
  /** The edit's layers. */
  layers: number[]
  /** Against every other held edit of the same model with a direction at one of those layers and sites. */
  cosines: DirectionCosine[]
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
  /** The fitted edit's norms (per row) and direction cosines, when the request named one. */
  edited?: EditedDiagnostics
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
