import { ref } from 'vue'
import type { JobKind, JobResults } from '../../../shared/jobs.ts'
import { useContractEvent } from '../composables/use-contract-event.ts'
import { messageOf } from '../errors.ts'

/**
 * One long job of one kind as a screen follows it: start it, hear its progress and outcome, estimate the time left
 * from the progress so far, cancel it. Call inside a store or component setup (it subscribes to job events).
 */
export function useJobFollower<K extends JobKind>(kind: K, cancel: (id: string) => Promise<unknown>) {
  const id = ref<string | null>(null)
  const fraction = ref<number | null>(null)
  const message = ref('')
  const error = ref<string | null>(null)
  const result = ref<JobResults[K] | null>(null)
  /** Seconds left at the last progress report, or null while unknown. */
  const secondsLeft = ref<number | null>(null)
  let startedAt = 0
  const done: ((value: JobResults[K]) => void)[] = []

  useContractEvent('job:progress', (event) => {
    if (event.id !== id.value) return
    fraction.value = event.fraction
    message.value = event.message
    const elapsed = (Date.now() - startedAt) / 1000
    // Too early a fraction makes a wild guess; wait for a few percent.
    secondsLeft.value =
      event.fraction !== null && event.fraction >= 0.03 && event.fraction < 1
        ? (elapsed * (1 - event.fraction)) / event.fraction
        : null
  })
  useContractEvent('job:done', (event) => {
    if (event.id !== id.value) return
    id.value = null
    secondsLeft.value = null
    if (event.outcome === 'succeeded' && event.kind === kind) {
      fraction.value = 1
      message.value = 'Done.'
      const value = event.result as JobResults[K]
      result.value = value
      for (const listener of done) listener(value)
    } else if (event.outcome === 'failed') {
      fraction.value = null
      error.value = event.error.message
    } else {
      fraction.value = null
      message.value = 'Cancelled.'
    }
  })

  /** Start the job with `request` (which returns its id); refusals become `error`. */
  async function start(request: () => Promise<{ id: string }>): Promise<void> {
    if (id.value !== null) return
    error.value = null
    result.value = null
    fraction.value = 0
    message.value = 'Starting…'
    secondsLeft.value = null
    startedAt = Date.now()
    try {
      id.value = (await request()).id
    } catch (thrown) {
      fraction.value = null
      message.value = ''
      error.value = messageOf(thrown)
    }
  }

  async function stop(): Promise<void> {
    if (id.value !== null) await cancel(id.value)
  }

  /** Run `listener` with each successful result. */
  function onResult(listener: (value: JobResults[K]) => void): void {
    done.push(listener)
  }

  return { id, fraction, message, error, result, secondsLeft, start, stop, onResult }
}
