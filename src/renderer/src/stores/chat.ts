import { defineStore } from 'pinia'
import { computed, ref, watch } from 'vue'
import type {
  ChatEditSetting,
  ChatSendResult,
  Conversation,
  ConversationEntry,
} from '../../../shared/chat.ts'
import type { DatasetEntry, EditSummary } from '../../../shared/steering.ts'
import { useClient } from '../api.ts'
import { useContractEvent } from '../composables/use-contract-event.ts'
import { messageOf } from '../errors.ts'
import { emptyConversation, historyOf, stoppedReply, titleOf } from './chat-conversation.ts'

/** Edits on one stack at most (the contract's limit). */
export const maxStackedEdits = 8

/** What is streaming into the last turn. */
interface PendingReply {
  jobId: string | null
  base: string
  steered: string
  /** Whether the steered column is generated at all (some edit switched on). */
  steering: boolean
}

/**
 * The Chat screen: saved conversations, the open one (turns with base and steered replies), the edit stack and
 * sampling it is generated with, and the reply streaming now. Every finished reply is saved to the workspace.
 */
export const useChatStore = defineStore('chat', () => {
  const client = useClient()
  const conversations = ref<ConversationEntry[]>([])
  const current = ref<Conversation>(emptyConversation())
  const draft = ref('')
  const pending = ref<PendingReply | null>(null)
  const progress = ref('')
  const error = ref<string | null>(null)
  /** A note about the last reply (older turns left out to fit the context). */
  const note = ref<string | null>(null)
  /** Edits the engine holds (fitted or loaded this session). */
  const available = ref<EditSummary[]>([])
  /** Bundled demonstration sets a quick fit can use. */
  const datasets = ref<DatasetEntry[]>([])
  const quickFitJob = ref<string | null>(null)
  const quickFitMessage = ref('')
  /** Whether the saved conversations were read (and the latest opened) since the screen opened. */
  const initialized = ref(false)
  /** Tokens that arrived before `chat:send` answered with their job id. */
  const early = new Map<string, { column: 'base' | 'steered'; text: string }[]>()

  const sending = computed(() => pending.value !== null)
  const enabledEdits = computed(() => current.value.edits.filter((edit) => edit.enabled))

  async function refreshList(): Promise<void> {
    try {
      conversations.value = await client['chat:list']({})
    } catch (thrown) {
      error.value = messageOf(thrown)
    }
  }

  async function refreshEdits(): Promise<void> {
    try {
      available.value = await client['edits:list']({})
    } catch (thrown) {
      error.value = messageOf(thrown)
    }
  }

  async function refreshDatasets(): Promise<void> {
    try {
      const listed = await client['datasets:list']({})
      datasets.value = listed.datasets.filter((entry) => entry.trainPairs > 0)
    } catch (thrown) {
      error.value = messageOf(thrown)
    }
  }

  /** Open the list and the most recent readable conversation (or keep a fresh one). */
  async function initialize(): Promise<void> {
    await Promise.all([refreshList(), refreshEdits(), refreshDatasets()])
    const latest = conversations.value.find((entry) => entry.problem === null)
    if (latest !== undefined && current.value.turns.length === 0) await open(latest.id)
    initialized.value = true
  }

  async function open(id: string): Promise<void> {
    if (sending.value) return
    try {
      current.value = await client['chat:load']({ id })
      error.value = null
      note.value = null
    } catch (thrown) {
      error.value = messageOf(thrown)
    }
  }

  function startNew(): void {
    if (sending.value) return
    current.value = emptyConversation(current.value)
    error.value = null
    note.value = null
  }

  async function save(): Promise<void> {
    if (current.value.turns.length === 0) return
    current.value.updated = new Date().toISOString()
    try {
      await client['chat:save']({ conversation: current.value })
      await refreshList()
    } catch (thrown) {
      error.value = messageOf(thrown)
    }
  }

  async function remove(id: string): Promise<void> {
    try {
      await client['chat:delete']({ id })
      if (current.value.id === id) startNew()
      await refreshList()
    } catch (thrown) {
      error.value = messageOf(thrown)
    }
  }

  /** Put an engine-held edit on the stack at its method's default strength. */
  function addEdit(id: string): void {
    const summary = available.value.find((edit) => edit.id === id)
    if (summary === undefined || current.value.edits.length >= maxStackedEdits) return
    if (current.value.edits.some((edit) => edit.id === id)) return
    const setting: ChatEditSetting = {
      id,
      label: summary.label,
      strength: summary.strength.default,
      enabled: true,
    }
    current.value.edits.push(setting)
  }

  function removeEdit(index: number): void {
    current.value.edits.splice(index, 1)
  }

  /** Send `message` (default: the draft) after the conversation's turns. */
  /** `seed` overrides the conversation's seed for this reply (a regenerated sample); the turn records it. */
  async function send(
    message: string = draft.value,
    seed: number = current.value.sampling.seed,
  ): Promise<void> {
    if (sending.value || message.trim() === '') return
    error.value = null
    note.value = null
    const history = historyOf(current.value.turns)
    const edits = current.value.edits.map((edit) => ({ ...edit }))
    const steering = edits.some((edit) => edit.enabled)
    if (current.value.turns.length === 0) current.value.title = titleOf(message)
    current.value.turns.push({
      user: message,
      base: null,
      steered: null,
      steeredWith: edits.filter((edit) => edit.enabled),
      seed,
    })
    pending.value = { jobId: null, base: '', steered: '', steering }
    progress.value = 'Starting…'
    draft.value = ''
    try {
      const started = await client['chat:send']({
        systemPrompt: current.value.systemPrompt,
        history,
        message,
        edits,
        options: { ...current.value.sampling, seed, stopStrings: [...current.value.sampling.stopStrings] },
      })
      if (pending.value !== null) pending.value.jobId = started.id
      for (const token of early.get(started.id) ?? []) appendToken(started.id, token.column, token.text)
      early.clear()
    } catch (thrown) {
      // Refused before any work: the message goes back to the composer.
      current.value.turns.pop()
      pending.value = null
      draft.value = message
      error.value = messageOf(thrown)
    }
  }

  async function stop(): Promise<void> {
    const id = pending.value?.jobId
    if (id !== null && id !== undefined) await client['job:cancel']({ id })
  }

  /**
   * Generate the last turn's replies again with the current edits and sampling. When sampling (temperature above 0)
   * a fresh seed draws a new sample for both columns; greedy replies keep the seed, which does not matter to them.
   */
  async function regenerate(): Promise<void> {
    const last = current.value.turns.at(-1)
    if (sending.value || last === undefined) return
    current.value.turns.pop()
    const sampling = current.value.sampling
    const seed = sampling.temperature > 0 ? Math.floor(Math.random() * 2 ** 32) : sampling.seed
    await send(last.user, seed)
  }

  /** Replace user message `index` with `text` and run the conversation again from there. */
  async function editMessage(index: number, text: string): Promise<void> {
    if (sending.value || index < 0 || index >= current.value.turns.length) return
    current.value.turns.splice(index)
    await send(text)
  }

  function appendToken(job: string, column: 'base' | 'steered', text: string): void {
    const reply = pending.value
    if (reply === null) return
    if (reply.jobId === null) {
      early.set(job, [...(early.get(job) ?? []), { column, text }])
      return
    }
    if (reply.jobId === job) reply[column] += text
  }

  function finish(result: ChatSendResult | null): void {
    const reply = pending.value
    const turn = current.value.turns.at(-1)
    pending.value = null
    progress.value = ''
    if (reply === null || turn === undefined) return
    if (result !== null) {
      turn.base = result.base
      turn.steered = result.steered
      turn.seed = result.seed
      if (result.droppedTurns > 0) {
        note.value =
          `The ${result.droppedTurns} oldest exchange${result.droppedTurns === 1 ? ' was' : 's were'} left out ` +
          'so the conversation fits the model’s context.'
      }
    } else {
      turn.base = stoppedReply(reply.base)
      turn.steered = reply.steering ? stoppedReply(reply.steered) : null
    }
    void save()
  }

  /** Fit a mean difference on a bundled demonstration set and put it on the stack. */
  async function quickFit(dataset: string): Promise<void> {
    if (quickFitJob.value !== null) return
    error.value = null
    quickFitMessage.value = 'Starting…'
    try {
      quickFitJob.value = (await client['edit:fit']({ dataset, method: 'mean-diff' })).id
    } catch (thrown) {
      quickFitMessage.value = ''
      error.value = messageOf(thrown)
    }
  }

  // Settings changed between replies (system prompt, stack, sampling) are saved too, shortly after the last change;
  // opening another conversation is not a change.
  let settingsTimer: ReturnType<typeof setTimeout> | undefined
  watch(
    () =>
      [
        current.value.id,
        JSON.stringify([current.value.systemPrompt, current.value.edits, current.value.sampling]),
      ] as const,
    ([id], [previousId]) => {
      if (id !== previousId || sending.value || current.value.turns.length === 0) return
      clearTimeout(settingsTimer)
      settingsTimer = setTimeout(() => void save(), 600)
    },
  )

  useContractEvent('chat:token', (token) => appendToken(token.job, token.column, token.text))
  useContractEvent('job:progress', (event) => {
    if (event.id === pending.value?.jobId) progress.value = event.message
    if (event.id === quickFitJob.value) quickFitMessage.value = event.message
  })
  useContractEvent('job:done', (done) => {
    if (done.id === quickFitJob.value) {
      quickFitJob.value = null
      quickFitMessage.value = ''
      if (done.outcome === 'succeeded' && done.kind === 'fit') {
        void refreshEdits().then(() => addEdit(done.result.editId))
      } else if (done.outcome === 'failed') {
        error.value = done.error.message
      }
      return
    }
    if (pending.value === null || done.id !== pending.value.jobId) return
    if (done.outcome === 'succeeded' && done.kind === 'chat') {
      finish(done.result)
    } else {
      if (done.outcome === 'failed') error.value = done.error.message
      const streamed = pending.value.base !== '' || pending.value.steered !== ''
      if (streamed) {
        finish(null)
      } else {
        // Nothing was generated: the message goes back to the composer.
        draft.value = current.value.turns.pop()?.user ?? draft.value
        pending.value = null
        progress.value = ''
      }
    }
  })
  useContractEvent('model:changed', () => void refreshEdits())

  return {
    conversations,
    current,
    draft,
    pending,
    progress,
    error,
    note,
    available,
    datasets,
    quickFitJob,
    quickFitMessage,
    sending,
    enabledEdits,
    initialized,
    initialize,
    refreshList,
    refreshEdits,
    open,
    startNew,
    save,
    remove,
    addEdit,
    removeEdit,
    send,
    stop,
    regenerate,
    editMessage,
    quickFit,
  }
})
