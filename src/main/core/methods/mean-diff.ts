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
import { meanDifferenceFit } from './mean-difference-fit.ts'
import {
  checkActivations,
  layerAtFraction,
  layersOption,
  resolveLayers,
  type Method,
  type MethodFit,
} from './method.ts'

const optionsSchema = z.strictObject({
  layers: layersOption,
  selector: z.enum(['completionMean', 'lastPrompt']),
})
/** mean-diff options after parsing (defaults merged). */
export type MeanDiffOptions = z.infer<typeof optionsSchema>

const site = 'resid_post'

function fit(activations: ActivationSet, options: MeanDiffOptions): MethodFit {
  checkActivations(activations, 'mean-diff', { site, selector: options.selector })
  return meanDifferenceFit(activations, site, { kind: 'all' })
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
