/**
 * The loaded model's fingerprint, hashed once per model and shared by every request that needs it (fits, edit
 * files, evaluations). A failed hash is forgotten so the next request tries again.
 */
import type { ModelFingerprint } from '../../../shared/edit.ts'
import type { EngineModel, EngineRuntime } from './engine-runtime.ts'

/** A function answering the fingerprint of a model, cached for the last model asked about. */
export type FingerprintOf<Model extends EngineModel> = (model: Model) => Promise<ModelFingerprint>

export function fingerprintCache<Model extends EngineModel>(
  runtime: EngineRuntime<Model>,
): FingerprintOf<Model> {
  let cached: { model: Model; value: Promise<ModelFingerprint> } | null = null
  return (model) => {
    if (cached?.model !== model) {
      const value = runtime.fingerprint(model)
      cached = { model, value }
      value.catch(() => {
        if (cached?.value === value) cached = null
      })
    }
    return cached.value
  }
}
