import { defineStore } from 'pinia'
import { ref } from 'vue'
import type { EngineStatusReport } from '../../../shared/contract.ts'
import type { VariantName } from '../../../shared/model-variants.ts'
import { useClient } from '../api.ts'
import { useContractEvent } from '../composables/use-contract-event.ts'
import { messageOf } from '../errors.ts'

/** The engine's status (versions, providers, model) as the first screen shows it, kept current by events. */
export const useEngineStore = defineStore('engine', () => {
  const client = useClient()
  const status = ref<EngineStatusReport | null>(null)
  /** Why the status could not be read (no connection, no token). */
  const error = ref<string | null>(null)
  /** Why the last `model:load` request was refused (a bad path); load failures arrive in `modelProblem`. */
  const loadError = ref<string | null>(null)
  const refreshing = ref(false)
  /** How many `model:changed` events have arrived: a status read while one arrives may be older than it. */
  let modelEvents = 0

  async function refresh(): Promise<void> {
    refreshing.value = true
    try {
      // The server may forward an event before the response to a status read that preceded it, so a read
      // overtaken by an event is repeated rather than trusted.
      for (;;) {
        const seen = modelEvents
        const read = await client['engine:status']({})
        if (seen !== modelEvents) continue
        status.value = read
        break
      }
      error.value = null
    } catch (thrown) {
      error.value = messageOf(thrown)
    } finally {
      refreshing.value = false
    }
  }

  async function loadModel(path: string, variant?: VariantName): Promise<void> {
    loadError.value = null
    try {
      await client['model:load'](variant === undefined ? { path } : { path, variant })
    } catch (thrown) {
      loadError.value = messageOf(thrown)
    }
  }

  useContractEvent('model:changed', (state) => {
    modelEvents += 1
    // Without a status (the first read failed, e.g. the engine was still starting) the event proves the engine is
    // answering: read the whole status again rather than stay on the error.
    if (status.value === null) {
      if (!refreshing.value) void refresh()
      return
    }
    status.value = {
      ...status.value,
      model: state.model,
      modelLoading: state.loading,
      modelProblem: state.problem,
    }
  })

  return { status, error, loadError, refreshing, refresh, loadModel }
})
