/**
 * Φ-SEA — non-linear spectral editing (METHODS.md §1.8): SEA's projections fitted on φ(H), φ(H±) for an
 * elementwise feature map φ, applied as merge(φ⁻¹(P⁺φ(h)), φ⁻¹(P⁻φ(h))) at every position.
 *
 * Defaults follow the released fairness run: squared-exponential φ, K⁺ = K⁻ = 0.9999, the last 2 blocks.
 * `phiMode: 'code'` reproduces the released inference, which computes P h on the raw h and only applies φ⁻¹.
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
  /** The elementwise feature map (ℓ = 1 for squared-exponential, α = 1 for ELU). */
  phi: z.enum(['squared-exponential', 'tanh', 'elu']),
  /** paper: φ⁻¹(P φ(h)); code: φ⁻¹(P h), the released inference (reproduction only). */
  phiMode: z.enum(['paper', 'code']),
})
/** phi-sea options after parsing (defaults merged). */
export type PhiSeaOptions = z.infer<typeof optionsSchema>

const selector = 'last'

function layers(options: PhiSeaOptions, layerCount: number): number[] {
  return resolveLayers(options.layers, lastBlocks(2, layerCount), layerCount, 'phi-sea')
}

async function fit(
  activations: ActivationSet,
  options: PhiSeaOptions,
  context: FitContext = {},
): Promise<MethodFit> {
  checkActivations(activations, 'phi-sea', { site: 'resid_post', selector })
  return fitSpectral('phi-sea', activations, context.neutral, {
    site: options.site,
    positiveVariance: options.positiveVariance,
    negativeVariance: options.negativeVariance,
    merge: options.merge,
    phi: options.phi,
    phiMode: options.phiMode,
    centering: options.centering,
  })
}

/** Φ-SEA with an elementwise feature map. */
export const phiSea: Method<PhiSeaOptions> = {
  id: 'phi-sea',
  summary: 'Non-linear spectral editing: SEA fitted and applied in an elementwise feature space φ(h)',
  optionsSchema,
  defaults: {
    layers: undefined,
    positiveVariance: 0.9999,
    negativeVariance: 0.9999,
    merge: 'norm',
    site: 'resid_post',
    neutralMaxNewTokens: 64,
    centering: false,
    phi: 'squared-exponential',
    phiMode: 'paper',
  },
  strength: spectralStrength,
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
