/**
 * Mean difference control vectors (METHODS.md §7.3): `dir_l = mean(h⁺) − mean(h⁻)`, unnormalized, at
 * `resid_post`, applied at every position — CAA without the letter-token convention, the most robust estimator
 * for small N.
 *
 * `completionMean` reads the mean over each completion's tokens (the contrast sits in the assistant turn);
 * `lastPrompt` reads the last prompt token with the contrast rendered into the user turn (the prompt must differ,
 * otherwise a causal model gives identical activations on both sides).
 */
import { z } from 'zod'
import type { ActivationSet } from '../../../shared/activations.ts'
import type { Intervention } from '../../../shared/edit.ts'
import { norm } from '../../../shared/vectors.ts'
import { meanDifference } from '../linalg/statistics.ts'
import {
  checkActivations,
  layerAtFraction,
  layerMatrices,
  resolveLayers,
  type Method,
  type MethodFit,
} from './method.ts'

const optionsSchema = z.strictObject({
  layers: z.array(z.number().int().min(0)).min(1).optional(),
  selector: z.enum(['completionMean', 'lastPrompt']),
})
/** mean-diff options after parsing (defaults merged). */
export type MeanDiffOptions = z.infer<typeof optionsSchema>

const site = 'resid_post'

function fit(activations: ActivationSet, options: MeanDiffOptions): MethodFit {
  checkActivations(activations, 'mean-diff', { site, selector: options.selector })
  const interventions: Intervention[] = []
  const notes: string[] = []
  activations.layers.forEach((layer, index) => {
    const { positive, negative } = layerMatrices(activations, index)
    const vector = meanDifference(positive, activations.rows, negative, activations.rows, activations.width)
    interventions.push({ layer, site, positions: { kind: 'all' }, op: { kind: 'add', vector } })
    notes.push(`layer ${layer}: ‖v‖ = ${norm(vector).toPrecision(4)}`)
  })
  return { interventions, notes }
}

/** Mean difference at resid_post, added at all positions. */
export const meanDiff: Method<MeanDiffOptions> = {
  id: 'mean-diff',
  summary: 'Mean difference of positive and negative activations at resid_post, added at every position',
  optionsSchema,
  defaults: { layers: undefined, selector: 'completionMean' },
  strength: {
    description: 'α scales the natural-scale mean difference: h + α·v at every position',
    default: 1,
    testedRange: [-2, 2],
  },
  capture: (options, layerCount) => ({
    site,
    selector: options.selector,
    layers: resolveLayers(options.layers, [layerAtFraction(13 / 32, layerCount)], layerCount, 'mean-diff'),
    render: { contrast: options.selector === 'lastPrompt' ? 'prompt' : 'completion' },
  }),
  fit,
}
