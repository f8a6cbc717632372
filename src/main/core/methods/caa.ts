/**
 * CAA — Contrastive Activation Addition (Rimsky et al. 2024; METHODS.md §4).
 *
 * Fit: A/B items rendered through the chat template with the answer as the assistant turn; `resid_post[l]` at the
 * answer-letter token ("A" of "(A)", position −2 in the paper); `v_l = mean_i (a⁺_i − a⁻_i)`, natural scale.
 * Runtime: `h_t ← h_t + α·v_l` from the assistant start onward, generated tokens included; the user's instruction is
 * not steered. The paper's multiplier is α (±1 main results, sweeps −2…+2).
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
  /** Default scales the paper's layer 13 of Llama-2-7B-chat's 32 blocks. */
  layers: layersOption,
})
/** CAA options after parsing (defaults merged). */
export type CaaOptions = z.infer<typeof optionsSchema>

const site = 'resid_post'
const selector = 'answerLetter'

function fit(activations: ActivationSet, _options: CaaOptions): MethodFit {
  checkActivations(activations, 'caa', { site, selector })
  return meanDifferenceFit(
    activations,
    site,
    { kind: 'fromAssistantStart' },
    ` over ${activations.rows} pairs`,
  )
}

/** CAA: answer-letter mean difference at resid_post, applied from the assistant start. */
export const caa: Method<CaaOptions> = {
  id: 'caa',
  summary: 'CAA: mean difference at the answer letter (resid_post), added from the assistant turn onward',
  optionsSchema,
  defaults: { layers: undefined },
  strength: {
    description: 'α is the multiplier m: h + m·v with v the natural-scale mean difference',
    default: 1,
    testedRange: [-2, 2],
  },
  capture: (options, layerCount) => ({
    site,
    selector,
    layers: resolveLayers(options.layers, [layerAtFraction(13 / 32, layerCount)], layerCount, 'caa'),
    render: { contrast: 'completion', requireAnswerLetter: true },
  }),
  fit,
}
