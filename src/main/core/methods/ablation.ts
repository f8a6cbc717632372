/**
 * Directional ablation — the "refusal direction" (Arditi et al. 2024; METHODS.md §8).
 *
 * Fit: positive = instructions showing the behaviour (harmful), negative = instructions without it (harmless),
 * rendered into the user turn; `r = mean(resid_pre[l]⁺) − mean(resid_pre[l]⁻)` at the last prompt token (the end
 * of the post-instruction template), accumulated in float64; `r̂ = r/‖r‖`.
 * Runtime: `x ← x − α(xᵀr̂)r̂` at `resid_pre`, `attn_out` and `mlp_out` of every block, every position. The paper
 * picks (position, layer) by a validation sweep; Tiller fits at one chosen layer (default ~14/32 of the depth,
 * below the paper's 0.8·L cut-off).
 */
import { z } from 'zod'
import type { ActivationSet } from '../../../shared/activations.ts'
import type { Intervention } from '../../../shared/edit.ts'
import { norm } from '../../../shared/vectors.ts'
import { TillerError } from '../errors.ts'
import { meanDifference } from '../linalg/statistics.ts'
import {
  checkActivations,
  layerAtFraction,
  layerMatrices,
  resolveLayers,
  singleCapturedLayer,
  singleLayerOption,
  type Method,
  type MethodFit,
} from './method.ts'

const optionsSchema = z.strictObject({
  /** The one block whose resid_pre yields the direction. */
  layers: singleLayerOption,
})
/** ablation options after parsing (defaults merged). */
export type AblationOptions = z.infer<typeof optionsSchema>

const site = 'resid_pre'
const selector = 'lastPrompt'
const ablatedSites = ['resid_pre', 'attn_out', 'mlp_out'] as const

function fit(activations: ActivationSet, _options: AblationOptions): MethodFit {
  checkActivations(activations, 'ablation', { site, selector })
  const layer = singleCapturedLayer(activations, 'ablation')
  const { positive, negative } = layerMatrices(activations, 0)
  const direction = meanDifference(positive, activations.rows, negative, activations.rows, activations.width)
  const length = norm(direction)
  if (!(length > 0)) {
    throw new TillerError(
      'invalid-dataset',
      `ablation: the mean difference at resid_pre[${layer}] is zero, so there is no direction to remove.`,
      { subject: `layer ${layer}` },
    )
  }
  const basis = new Float32Array(direction.length)
  for (let index = 0; index < basis.length; index++) basis[index] = (direction[index] as number) / length
  const interventions: Intervention[] = []
  for (let block = 0; block < activations.model.layers; block++) {
    for (const ablatedSite of ablatedSites) {
      interventions.push({
        layer: block,
        site: ablatedSite,
        positions: { kind: 'all' },
        op: { kind: 'project', basis, rank: 1, mode: 'remove' },
      })
    }
  }
  return {
    interventions,
    notes: [`direction from resid_pre[${layer}], ‖r‖ = ${length.toPrecision(4)}; removed at every block`],
  }
}

/** Directional ablation: remove one direction from the residual writes of every block. */
export const ablation: Method<AblationOptions> = {
  id: 'ablation',
  summary:
    'Directional ablation: remove the mean-difference direction at resid_pre, attn_out, mlp_out of every block',
  optionsSchema,
  defaults: { layers: undefined },
  strength: {
    description: 'α interpolates the projection: x − α(xᵀr̂)r̂; α = 1 removes the direction fully',
    default: 1,
    testedRange: [0, 1],
  },
  capture: (options, layerCount) => ({
    site,
    selector,
    layers: resolveLayers(
      options.layers,
      [layerAtFraction(14 / 32, layerCount)],
      layerCount,
      'ablation',
      true,
    ),
    render: { contrast: 'prompt' },
  }),
  fit,
}
