import { defineStore } from 'pinia'
import { ref } from 'vue'
import type { ErrorInfo, JobKind } from '../../../shared/jobs.ts'
import { useClient } from '../api.ts'
import { useContractEvent } from '../composables/use-contract-event.ts'

/** A job as the UI follows it. */
export interface JobView {
  id: string
  kind: JobKind
  fraction: number | null
  message: string
  state: 'running' | 'succeeded' | 'failed' | 'cancelled'
  error: ErrorInfo | null
}

/** Every job this window has heard of, by id, fed by `job:progress` and `job:done`. */
export const useJobsStore = defineStore('jobs', () => {
  const client = useClient()
  const jobs = ref<Record<string, JobView>>({})

  function upsert(id: string, kind: JobKind, change: Partial<JobView>): void {
    const existing = jobs.value[id] ?? {
      id,
      kind,
      fraction: null,
      message: '',
      state: 'running',
      error: null,
    }
    jobs.value[id] = { ...existing, ...change }
  }

  useContractEvent('job:progress', ({ id, kind, fraction, message }) =>
    upsert(id, kind, { fraction, message }),
  )
  useContractEvent('job:done', (done) => {
    const error = done.outcome === 'failed' ? done.error : null
    upsert(done.id, done.kind, {
      state: done.outcome,
      error,
      fraction: done.outcome === 'succeeded' ? 1 : null,
    })
  })

  /** Ask the engine to stop a job; its `job:done` follows. */
  async function cancel(id: string): Promise<boolean> {
    return (await client['job:cancel']({ id })).cancelled
  }

  return { jobs, cancel }
})
