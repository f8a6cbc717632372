import { defineStore } from 'pinia'
import { computed, onScopeDispose, ref } from 'vue'
import type { EngineHealth } from '../../../shared/engine-health.ts'
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

  /** The jobs the last restart failed: the watchdog reports them while restarting and clears them once ready. */
  const failedJobs = ref<string[]>([])
  /** Why the engine last restarted, kept for the "restarted" notice after it is ready again. */
  const lastReason = ref('')

  useContractEvent('engine:health', (report) => {
    health.value = report
    dismissed.value = false
    if (report.state === 'restarting' || report.state === 'stopped') {
      failedJobs.value = report.failedJobs
      lastReason.value = report.reason?.message ?? ''
    }
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
      // A restarted engine reports `starting` until its first heartbeat: still restarting to the user.
      if (report.state === 'restarting' || (report.state === 'starting' && report.restarts > 0)) {
        return {
          tone: 'warning',
          title: 'The engine stopped responding — restarting…',
          detail: lastReason.value,
        }
      }
      if (report.state === 'starting') return null
      if (report.state === 'stopped') {
        return {
          tone: 'error',
          title: 'The engine stopped and could not be restarted.',
          detail: `${lastReason.value} Restart Tiller; saved work is on disk.`,
        }
      }
      if (dismissed.value || report.restarts === 0) return null
      const jobs = failedJobs.value.length
      return {
        tone: 'info',
        title:
          jobs === 0
            ? 'The engine was restarted.'
            : `The engine was restarted; the running ${jobs === 1 ? 'job' : `${jobs} jobs`} failed because it stopped.`,
        detail: lastReason.value,
      }
    },
  )

  /** True while the engine cannot answer (requests would fail or wait). */
  const unavailable = computed(
    () =>
      connection.value === 'closed' ||
      health.value?.state === 'restarting' ||
      (health.value?.state === 'starting' && health.value.restarts > 0) ||
      health.value?.state === 'stopped',
  )

  return { health, connection, banner, unavailable, dismiss: () => (dismissed.value = true) }
})
