import { defineStore } from 'pinia'
import { computed, ref } from 'vue'
import type { FinishReason } from '../../../shared/generation.ts'
import type { StrengthInfo } from '../../../shared/steering.ts'
import { useClient } from '../api.ts'
import { useContractEvent } from '../composables/use-contract-event.ts'
import { messageOf } from '../errors.ts'

/** One column of the comparison: its strength and the text streamed so far. */
export interface CompareColumn {
  strength: number
  text: string
  finishReason: FinishReason | null
  generatedTokens: number | null
}

/** Columns side by side at most (the contract's limit per batch). */
export const maxStrengths = 8

/** The compare panel: one prompt, several strengths of the chosen edit, one streaming column per strength. */
export const useCompareStore = defineStore('compare', () => {
  const client = useClient()
  const prompt = ref('Tell me about your day.')
  /** Whether the user typed a prompt; until then the view may suggest one from the chosen demonstrations. */
  const promptEdited = ref(false)
  const chat = ref(true)
  const maxTokens = ref(48)
  const temperature = ref(0)
  /** Strength 0 is the base model; the rest steer. */
  const strengths = ref<number[]>([0, 1])

  const jobId = ref<string | null>(null)
  const columns = ref<CompareColumn[]>([])
  const message = ref('')
  const error = ref<string | null>(null)
  const tokensPerSecond = ref<number | null>(null)
  const running = computed(() => jobId.value !== null)
  /** The prompt as the columns show it before their text: plain completions continue it, chat turns answer it. */
  const echo = ref('')

  /** Reset the strengths for an edit: base, the method's positive default, and its negative when asked for. */
  function resetStrengths(strength: StrengthInfo, withNegative = false): void {
    const positive = strength.default > 0 ? strength.default : Math.max(1, strength.testedRange[1])
    strengths.value = withNegative ? [0, positive, -positive] : [0, positive]
  }

  /** Offer `text` as the prompt unless the user has typed one. */
  function suggestPrompt(text: string): void {
    if (!promptEdited.value && text.trim() !== '') prompt.value = text
  }

  function addStrength(value: number): void {
    if (strengths.value.length < maxStrengths && !strengths.value.includes(value)) strengths.value.push(value)
  }

  function removeStrength(index: number): void {
    if (strengths.value.length > 1) strengths.value.splice(index, 1)
  }

  /** Start comparing `editId` at every strength; columns fill as tokens stream. */
  async function start(editId: string): Promise<void> {
    if (running.value) return
    error.value = null
    tokensPerSecond.value = null
    message.value = 'Starting…'
    echo.value = chat.value ? '' : prompt.value
    columns.value = strengths.value.map((strength) => ({
      strength,
      text: '',
      finishReason: null,
      generatedTokens: null,
    }))
    try {
      const started = await client['chat:compare']({
        prompt: prompt.value,
        chat: chat.value,
        editId,
        strengths: [...strengths.value],
        options: { maxTokens: maxTokens.value, temperature: temperature.value },
      })
      jobId.value = started.id
    } catch (thrown) {
      error.value = messageOf(thrown)
      columns.value = []
    }
  }

  async function cancel(): Promise<void> {
    if (jobId.value !== null) await client['job:cancel']({ id: jobId.value })
  }

  useContractEvent('compare:token', (token) => {
    if (token.job !== jobId.value) return
    const column = columns.value[token.row]
    if (column !== undefined) column.text += token.text
  })
  useContractEvent('job:progress', (event) => {
    if (event.id === jobId.value) message.value = event.message
  })
  useContractEvent('job:done', (done) => {
    if (done.id !== jobId.value) return
    jobId.value = null
    message.value = ''
    if (done.outcome === 'succeeded' && done.kind === 'compare') {
      tokensPerSecond.value = done.result.tokensPerSecond
      columns.value = done.result.rows.map((row) => ({
        strength: row.strength,
        text: row.text,
        finishReason: row.finishReason,
        generatedTokens: row.generatedTokens,
      }))
    } else if (done.outcome === 'failed') {
      error.value = done.error.message
    } else if (done.outcome === 'cancelled') {
      error.value = 'The comparison was cancelled.'
    }
  })

  return {
    prompt,
    promptEdited,
    chat,
    maxTokens,
    temperature,
    strengths,
    jobId,
    columns,
    message,
    error,
    tokensPerSecond,
    running,
    echo,
    resetStrengths,
    suggestPrompt,
    addStrength,
    removeStrength,
    start,
    cancel,
  }
})
