/**
 * pca-center control vectors, as in repeng (METHODS.md §7): PCA of both sides centred on each pair mean (repeng
 * pca_center), at `resid_post` of each layer and the last token, unit norm, sign fixed by majority vote; added at
 * every position.
 */
import { pcaMethod, type PcaOptions } from './pca-method.ts'

/** pca-center options after parsing (defaults merged). */
export type PcaCenterOptions = PcaOptions

/** pca-center: unit control vectors at resid_post, added at every position. */
export const pcaCenter = pcaMethod(
  'pca-center',
  'Control vector: PCA of both sides centred on each pair mean (repeng pca_center)',
)
