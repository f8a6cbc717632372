/**
 * SEA — Spectral Editing of Activations (Qiu et al. 2024; METHODS.md §1). Per layer, keep the neutral subspace
 * that co-varies most with positive demonstrations and remove the one that co-varies most with negative ones:
 * h ← merge(P⁺h, P⁻h) with P⁺ = U⁺U⁺ᵀ, P⁻ = I − U⁻U⁻ᵀ, at every position.
 *
 * Activations: positive/negative = resid_post at the last token of prompt + answer; neutral = the model's own
 * greedy answer to the prompt, read at the last token fed to the model (capture/neutral.ts). Every layer, the last
 * included, reads the true block output (the released code reads the final-norm output at the last layer, §0.1).
 *
 * Defaults: the last ⌈21/32 · L⌉ blocks (the released truthfulness run edits the last 21 of 32), K⁺ = K⁻ = 0.99.
 * The released script uses 0.998 with N = 2000 demonstrations; with Tiller's tens to hundreds of pairs 0.998 keeps
 * and removes nearly the whole neutral span, so the two projections come close to cancelling into the identity
 * plus a full-rank reshuffle. 0.99 is the value METHODS.md recommends for a slider; 0.998 stays one option away.
 * Merge `norm` restores each token's norm (the per-token reading of the paper's prose). The released code's
 * per-feature l2_norm is `merge=feature-norm`, for reproduction: it depends on which tokens share a forward pass
 * (during cached decoding each feature becomes sign(y_i)·|h_i|).
 */
import { z } from 'zod'
import type { ActivationSet } from '../../../shared/activations.ts'
import {
  checkActivations,
  layersOption,
  resolveLayers,
  type FitContext,
  type Method,
  type MethodFit,
} from './method.ts'
import { fitSpectral } from './spectral-fit.ts'
import { lastBlocks, spectralOptionShapes, spectralStrength } from './spectral-options.ts'

const optionsSchema = z.strictObject({
  layers: layersOption,
  ...spectralOptionShapes,
})
/** sea options after parsing (defaults merged). */
export type SeaOptions = z.infer<typeof optionsSchema>

const selector = 'last'

function layers(options: SeaOptions, layerCount: number): number[] {
  return resolveLayers(
    options.layers,
    lastBlocks(Math.ceil((21 / 32) * layerCount), layerCount),
    layerCount,
    'sea',
  )
}

async function fit(
  activations: ActivationSet,
  options: SeaOptions,
  context: FitContext = {},
): Promise<MethodFit> {
  checkActivations(activations, 'sea', { site: 'resid_post', selector })
  return fitSpectral('sea', activations, context.neutral, {
    site: options.site,
    positiveVariance: options.positiveVariance,
    negativeVariance: options.negativeVariance,
    merge: options.merge,
    phi: 'identity',
    phiMode: 'paper',
    centering: options.centering,
  })
}

/** Linear SEA. */
export const sea: Method<SeaOptions> = {
  id: 'sea',
  summary:
    'Spectral editing: keep the neutral subspace co-varying with positives, remove the one with negatives',
  optionsSchema,
  defaults: {
    layers: undefined,
    positiveVariance: 0.99,
    negativeVariance: 0.99,
    merge: 'norm',
    site: 'resid_post',
    neutralMaxNewTokens: 64,
    centering: false,
  },
  strength: spectralStrength,
  // Projections are estimated on block outputs (resid_post) whatever site they are applied at (METHODS.md §1.5).
  capture: (options, layerCount) => ({
    site: 'resid_post',
    selector,
    layers: layers(options, layerCount),
    render: { contrast: 'completion' },
  }),
  neutral: (options, layerCount) => ({
    site: 'resid_post',
    layers: layers(options, layerCount),
    maxNewTokens: options.neutralMaxNewTokens,
  }),
  fit,
}
