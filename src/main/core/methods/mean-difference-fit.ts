/**
 * The additive fit CAA and mean-diff share (METHODS.md §4, §7.3): at each captured layer the natural-scale mean
 * difference `v_l = mean(h⁺) − mean(h⁻)`, accumulated in float64, added at one site under one position policy.
 */
import type { ActivationSet } from '../../../shared/activations.ts'
import type { HookSite, PositionPolicy } from '../../../shared/edit.ts'
import { norm } from '../../../shared/vectors.ts'
import { meanDifference } from '../linalg/statistics.ts'
import { layerMatrices, type MethodFit } from './method.ts'

/**
 * One `add` of `v_l` `[width]` per captured layer, in capture order; each note gives the layer's ‖v‖ followed by
 * `noteSuffix`.
 * @param activations positive and negative matrices `[rows, width]` per layer
 */
export function meanDifferenceFit(
  activations: ActivationSet,
  site: HookSite,
  positions: PositionPolicy,
  noteSuffix = '',
): MethodFit {
  const fit: MethodFit = { interventions: [], notes: [] }
  activations.layers.forEach((layer, index) => {
    const { positive, negative } = layerMatrices(activations, index)
    const vector = meanDifference(positive, activations.rows, negative, activations.rows, activations.width)
    fit.interventions.push({ layer, site, positions, op: { kind: 'add', vector } })
    fit.notes.push(`layer ${layer}: ‖v‖ = ${norm(vector).toPrecision(4)}${noteSuffix}`)
  })
  return fit
}
