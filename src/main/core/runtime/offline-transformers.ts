/**
 * Transformers.js settings for the places that still load it (speech tokenizers, tests, the comparison
 * benchmark): never reach the network and never write a cache, since model folders are complete and read-only
 * to Tiller. Imported on demand only: loading Transformers.js costs about half a second.
 */
import { env } from '@huggingface/transformers'

/** Switch Transformers.js to local files only. */
export function configureOfflineTransformers(): void {
  env.allowRemoteModels = false
  env.allowLocalModels = true
  env.useFSCache = false
}
