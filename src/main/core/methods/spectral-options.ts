/**
 * Options SEA and Φ-SEA share (METHODS.md §1.7), their strength semantics, and the "last L blocks" layer rule.
 */
import { z } from 'zod'
import { spectralMerges } from '../../../shared/edit.ts'
import type { StrengthSemantics } from './method.ts'

/** An explained-variance share K in (0, 1): K = 1 is never reached by a floating-point sum (METHODS.md §1.10). */
const share = z.number().gt(0).lt(1)

/** Zod shapes of the shared options; each method adds `layers` and its own defaults. */
export const spectralOptionShapes = {
  /** K⁺: keep the fewest top directions of Ω⁺ whose σ² explain this share. */
  positiveVariance: share,
  /** K⁻: remove the fewest top directions of Ω⁻ whose σ² explain this share. */
  negativeVariance: share,
  /** norm: (h⁺ + h⁻)·‖h‖/‖h⁺ + h⁻‖ per token; feature-norm: the released code's per-feature l2_norm; see Op. */
  merge: z.enum(spectralMerges),
  /** Where the edit is applied: resid_post (where P± were estimated) or mlp_out (the released code's adapter). */
  site: z.enum(['resid_post', 'mlp_out']),
  /** Greedy tokens generated per prompt for the neutral activations (the organism's answers are short). */
  neutralMaxNewTokens: z.number().int().min(1).max(1024),
  /** Subtract each matrix's mean over samples before the cross-covariances (off in the released runs). */
  centering: z.boolean(),
}

/** The strength of a spectral edit. */
export const spectralStrength: StrengthSemantics = {
  description:
    "α interpolates toward the edited activation: h + α(SEA(h) − h); α = 1 is the paper's edit (the only " +
    'value the paper uses), α = 0 the base model. Values above 1 extrapolate past the paper and are untested.',
  default: 1,
  testedRange: [0, 1],
}

/** The last `count` blocks of a `layerCount`-block model, ascending (count clamped to [1, layerCount]). */
export function lastBlocks(count: number, layerCount: number): number[] {
  const clamped = Math.min(layerCount, Math.max(1, count))
  return Array.from({ length: clamped }, (_, offset) => layerCount - clamped + offset)
}
