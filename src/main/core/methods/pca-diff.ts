/**
 * pca-diff control vectors, as in repeng (METHODS.md §7): PCA of the pair differences h⁺ − h⁻ (repeng default), at
 * `resid_post` of each layer and the last token, unit norm, sign fixed by majority vote; added at every position.
 */
import { pcaMethod, type PcaOptions } from './pca-method.ts'

/** pca-diff options after parsing (defaults merged). */
export type PcaDiffOptions = PcaOptions

/** pca-diff: unit control vectors at resid_post, added at every position. */
export const pcaDiff = pcaMethod(
  'pca-diff',
  'Control vector: PCA of the pair differences h⁺ − h⁻ (repeng default)',
)
