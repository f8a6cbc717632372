import { defineStore } from 'pinia'
import { computed, ref } from 'vue'
import type { GenerationSummary } from '../../../shared/generation.ts'
import { useClient } from '../api.ts'
import { useContractEvent } from '../composables/use-contract-event.ts'
import { messageOf } from '../errors.ts'

/** The generate panel: its settings, the running job, and the text as it streams in. */
export const useGenerationStore = defineStore('generation', () => {
  const client = useClient()
  const prompt = ref('Once upon a time')
  const chat = ref(false)
  const maxTokens = ref(64)
  const temperature = ref(0.7)
  const stream = ref(true)

  const jobId = ref<string | null>(null)
  const output = ref('')
  const summary = ref<GenerationSummary | null>(null)
  const error = ref<string | null>(null)
  const running = computed(() => jobId.value !== null)

  async function start(): Promise<void> {
    if (running.value) return
    output.value = ''
    summary.value = null
    error.value = null
    try {
      const started = await client['generate:start']({
        prompt: prompt.value,
        chat: chat.value,
        options: { maxTokens: maxTokens.value, temperature: temperature.value },
      })
      jobId.value = started.id
    } catch (thrown) {
      error.value = messageOf(thrown)
    }
  }

  async function cancel(): Promise<void> {
    if (jobId.value !== null) await client['job:cancel']({ id: jobId.value })
  }

  useContractEvent('generate:token', (token) => {
    if (stream.value && token.jobId === jobId.value) output.value += token.text
  })
  useContractEvent('job:done', (done) => {
    if (done.id !== jobId.value) return
    jobId.value = null
    if (done.outcome === 'succeeded' && done.kind === 'generate') {
      summary.value = done.result
      output.value = done.result.text
    } else if (done.outcome === 'failed') {
      error.value = done.error.message
    } else if (done.outcome === 'cancelled') {
      error.value = 'Generation was cancelled.'
    }
  })

  return {
    prompt,
    chat,
    maxTokens,
    temperature,
    stream,
    jobId,
    output,
    summary,
    error,
    running,
    start,
    cancel,
  }
})
