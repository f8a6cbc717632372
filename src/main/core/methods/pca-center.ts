/**
 * pca-center control vectors, as in repeng (METHODS.md §7): PCA of both sides centred on each pair mean (repeng pca_center), at `resid_post` of each
 * layer and the last token, unit norm, sign fixed by majority vote; added at every position.
 */
import { z } from 'zod'
import type { ActivationSet } from '../../../shared/activations.ts'
import { checkActivations, layerAtFraction, resolveLayers, type Method, type MethodFit } from './method.ts'
import { fitPcaDirections } from './pca-direction.ts'

const optionsSchema = z.strictObject({
  /** Default: repeng's README band, blocks 15…27 of 32, scaled to the model's depth. */
  layers: z.array(z.number().int().min(0)).min(1).optional(),
})
/** pca-center options after parsing (defaults merged). */
export type PcaCenterOptions = z.infer<typeof optionsSchema>

const site = 'resid_post'
const selector = 'last'

function defaultLayers(layerCount: number): number[] {
  const first = layerAtFraction(15 / 32, layerCount)
  const last = layerAtFraction(27 / 32, layerCount)
  return Array.from({ length: last - first + 1 }, (_, offset) => first + offset)
}

function fit(activations: ActivationSet, _options: PcaCenterOptions): MethodFit {
  checkActivations(activations, 'pca-center', { site, selector })
  return fitPcaDirections(activations, 'pca-center')
}

/** pca-center: unit control vectors at resid_post, added at every position. */
export const pcaCenter: Method<PcaCenterOptions> = {
  id: 'pca-center',
  summary: 'Control vector: PCA of both sides centred on each pair mean (repeng pca_center)',
  optionsSchema,
  defaults: { layers: undefined },
  strength: {
    description:
      "α is repeng's coeff: h + α·d with d a unit vector (usable scale depends on the residual norm)",
    default: 1,
    testedRange: [-2.2, 2.2],
  },
  capture: (options, layerCount) => ({
    site,
    selector,
    layers: resolveLayers(options.layers, defaultLayers(layerCount), layerCount, 'pca-center'),
    render: { contrast: 'completion' },
  }),
  fit,
}
