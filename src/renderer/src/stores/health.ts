import { defineStore } from 'pinia'
import { computed, onScopeDispose, ref } from 'vue'
import type { EngineHealth } from '../../../shared/studio.ts'
import { onConnectionChange, type ConnectionState } from '../api.ts'
import { useContractEvent } from '../composables/use-contract-event.ts'
import { useEngineStore } from './engine.ts'

/**
 * Whether the engine behind the studio is working: its own `engine:health` reports (stopped, restarting, back
 * with the jobs that failed) and the connection to it (browser mode's WebSocket). When the engine comes back the
 * engine store reads its status again, so the header and screens show the restarted engine.
 */
export const useHealthStore = defineStore('health', () => {
  const engine = useEngineStore()
  const health = ref<EngineHealth | null>(null)
  const connection = ref<ConnectionState>('open')
  /** The user closed the "restarted" notice. */
  const dismissed = ref(false)

  useContractEvent('engine:health', (report) => {
    health.value = report
    dismissed.value = false
    if (report.state === 'ready') void engine.refresh()
  })
  const stopListening = onConnectionChange((state) => {
    const wasClosed = connection.value === 'closed'
    connection.value = state
    if (state === 'open' && wasClosed) void engine.refresh()
  })
  onScopeDispose(stopListening)

  /** What the banner says, or null when all is well. */
  const banner = computed<{ tone: 'error' | 'warning' | 'info'; title: string; detail: string } | null>(
    () => {
      if (connection.value === 'closed') {
        return {
          tone: 'error',
          title: 'The connection to the engine was lost — reconnecting…',
          detail: 'Requests wait until it is back; saved work is on disk.',
        }
      }
      const report = health.value
      if (report === null) return null
      if (report.state === 'restarting') {
        return {
          tone: 'warning',
          title: 'The engine stopped responding — restarting…',
          detail: report.reason ?? '',
        }
      }
      if (report.state === 'stopped') {
        return {
          tone: 'error',
          title: 'The engine stopped and could not be restarted.',
          detail: `${report.reason ?? ''} Restart Tiller; saved work is on disk.`,
        }
      }
      if (dismissed.value) return null
      const jobs = report.failedJobs.length
      return {
        tone: 'info',
        title:
          jobs === 0
            ? 'The engine was restarted.'
            : `The engine was restarted; the running ${jobs === 1 ? 'job' : `${jobs} jobs`} failed because it stopped.`,
        detail: report.reason ?? '',
      }
    },
  )

  /** True while the engine cannot answer (requests would fail or wait). */
  const unavailable = computed(
    () =>
      connection.value === 'closed' ||
      health.value?.state === 'restarting' ||
      health.value?.state === 'stopped',
  )

  return { health, connection, banner, unavailable, dismiss: () => (dismissed.value = true) }
})
