/** The loaded model's fingerprint, hashed once per loaded model and shared by every request that checks edits. */
import type { ModelFingerprint } from '../../../shared/edit.ts'
import type { EngineModel, EngineRuntime } from './engine-runtime.ts'

/** A function giving `model`'s fingerprint, computed once per model object (a failed hash is retried next time). */
export function fingerprintMemo<Model extends EngineModel>(
  runtime: EngineRuntime<Model>,
): (model: Model) => Promise<ModelFingerprint> {
  let memo: { model: Model; value: Promise<ModelFingerprint> } | null = null
  return (model) => {
    if (memo?.model !== model) {
      const value = runtime.fingerprint(model)
      memo = { model, value }
      value.catch(() => {
        if (memo?.value === value) memo = null
      })
    }
    return memo.value
  }
}
