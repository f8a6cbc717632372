/**
 * The repeng control-vector methods (METHODS.md §7), `pca-diff` and `pca-center`: one method shape, two training
 * matrices. Both read `resid_post` at the last token of each layer, fit a unit direction with the sign fixed by
 * majority vote (pca-direction.ts) and add it at every position.
 */
import { z } from 'zod'
import { checkActivations, layerAtFraction, layersOption, resolveLayers, type Method } from './method.ts'
import { fitPcaDirections, type PcaMode } from './pca-direction.ts'

const optionsSchema = z.strictObject({
  /** Default: repeng's README band, blocks 15…27 of 32, scaled to the model's depth. */
  layers: layersOption,
  /** natural (default): unit direction × the pairs' mean margin along it; unit: repeng's unit vector. */
  scale: z.enum(['natural', 'unit']),
})
/** Options of pca-diff and pca-center after parsing (defaults merged). */
export type PcaOptions = z.infer<typeof optionsSchema>

const site = 'resid_post'
const selector = 'last'

function defaultLayers(layerCount: number): number[] {
  const first = layerAtFraction(15 / 32, layerCount)
  const last = layerAtFraction(27 / 32, layerCount)
  return Array.from({ length: last - first + 1 }, (_, offset) => first + offset)
}

/** The PCA control-vector method whose training matrix `mode` names: unit vectors at resid_post, every position. */
export function pcaMethod(mode: PcaMode, summary: string): Method<PcaOptions> {
  return {
    id: mode,
    summary,
    optionsSchema,
    defaults: { layers: undefined, scale: 'natural' },
    strength: {
      description:
        'h + α·d at every position; with scale "natural" |d| is the pairs\' mean margin along the direction, so ' +
        'α = 1 moves activations by that margin (scale "unit": repeng\'s coeff on a unit vector)',
      default: 1,
      testedRange: [-2.2, 2.2],
    },
    capture: (options, layerCount) => ({
      site,
      selector,
      layers: resolveLayers(options.layers, defaultLayers(layerCount), layerCount, mode),
      render: { contrast: 'completion' },
    }),
    fit: (activations, options) => {
      checkActivations(activations, mode, { site, selector })
      return fitPcaDirections(activations, mode, options.scale)
    },
  }
}
