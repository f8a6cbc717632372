import { fileURLToPath } from 'node:url'

/**
 * The seed of the embedded organism's world (facts, held-out splits, datasets); the training run's seed is in
 * organism-config.ts. Changing it changes the committed datasets and model.
 */
export const organismSeed = 20250

/** `resources/datasets/`: the organism's demonstration pairs, multiple-choice items and neutral texts. */
export const datasetsDirectory = fileURLToPath(new URL('../../resources/datasets/', import.meta.url))

/** `resources/models/organism/`: the trained organism's model folder. */
export const organismModelDirectory = fileURLToPath(
  new URL('../../resources/models/organism/', import.meta.url),
)
