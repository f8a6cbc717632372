import { defineStore } from 'pinia'
import { computed, ref } from 'vue'
import type { MethodId } from '../../../shared/edit.ts'
import type { EditSummary, FitResult } from '../../../shared/steering.ts'
import { useClient } from '../api.ts'
import { useContractEvent } from '../composables/use-contract-event.ts'
import { messageOf } from '../errors.ts'

/** A file operation's outcome, shown under the buttons. */
export interface FileNote {
  kind: 'ok' | 'error'
  text: string
}

function ggufPath(path: string): string {
  return path.replace(/\.safetensors$/i, '') + '.gguf'
}

/** Fitting (the running job and its progress), the edits the engine holds, and saving, exporting and loading them. */
export const useEditsStore = defineStore('edits', () => {
  const client = useClient()
  const edits = ref<EditSummary[]>([])
  const selectedId = ref<string | null>(null)

  const fitJobId = ref<string | null>(null)
  const fitFraction = ref<number | null>(null)
  const fitMessage = ref('')
  const fitError = ref<string | null>(null)
  const lastFit = ref<FitResult | null>(null)

  const savePath = ref('')
  const exportPath = ref('')
  const loadPath = ref('')
  const note = ref<FileNote | null>(null)

  const fitting = computed(() => fitJobId.value !== null)
  const selected = computed(() => edits.value.find((edit) => edit.id === selectedId.value) ?? null)

  /** Choose an edit; the file fields follow it. */
  function select(id: string | null): void {
    selectedId.value = id
    const edit = selected.value
    savePath.value = edit?.suggestedPath ?? ''
    exportPath.value = edit === null ? '' : ggufPath(edit.suggestedPath)
  }

  /** Read the held edits again, keeping the selection when it is still there. */
  async function refresh(): Promise<void> {
    try {
      edits.value = await client['edits:list']({})
      if (selected.value === null) select(edits.value.at(-1)?.id ?? null)
    } catch (thrown) {
      note.value = { kind: 'error', text: messageOf(thrown) }
    }
  }

  /** Start a fit; progress and the result arrive as job events. */
  async function fit(dataset: string, method: MethodId, options: Record<string, unknown>): Promise<void> {
    if (fitting.value) return
    fitError.value = null
    lastFit.value = null
    fitFraction.value = 0
    fitMessage.value = 'Starting…'
    try {
      fitJobId.value = (await client['edit:fit']({ dataset, method, options })).id
    } catch (thrown) {
      fitFraction.value = null
      fitError.value = messageOf(thrown)
    }
  }

  async function cancelFit(): Promise<void> {
    if (fitJobId.value !== null) await client['job:cancel']({ id: fitJobId.value })
  }

  async function fileOperation(run: () => Promise<string>): Promise<void> {
    note.value = null
    try {
      note.value = { kind: 'ok', text: await run() }
    } catch (thrown) {
      note.value = { kind: 'error', text: messageOf(thrown) }
    }
  }

  /** Save the selected edit as a Tiller edit file. */
  async function save(): Promise<void> {
    const id = selectedId.value
    if (id === null) return
    await fileOperation(async () => {
      const saved = await client['edit:save']({ id, path: savePath.value })
      await refresh()
      return `Saved ${saved.path} (${saved.bytes.toLocaleString('en-US')} bytes).`
    })
  }

  /** Export the selected edit as a llama.cpp control vector; a refusal shows the engine's reason. */
  async function exportGguf(): Promise<void> {
    const id = selectedId.value
    if (id === null) return
    await fileOperation(async () => {
      const saved = await client['edit:export-gguf']({ id, path: exportPath.value })
      return `Exported ${saved.path} (${saved.bytes.toLocaleString('en-US')} bytes) for llama.cpp --control-vector.`
    })
  }

  /** Load an edit file for the loaded model and select it. */
  async function load(): Promise<void> {
    await fileOperation(async () => {
      const loaded = await client['edit:load']({ path: loadPath.value })
      await refresh()
      select(loaded.id)
      return `Loaded ${loaded.label} from ${loaded.path ?? loadPath.value}.`
    })
  }

  useContractEvent('job:progress', (event) => {
    if (event.id !== fitJobId.value) return
    fitFraction.value = event.fraction
    fitMessage.value = event.message
  })
  useContractEvent('job:done', (done) => {
    if (done.id !== fitJobId.value) return
    fitJobId.value = null
    if (done.outcome === 'succeeded' && done.kind === 'fit') {
      fitFraction.value = 1
      lastFit.value = done.result
      void refresh().then(() => select(done.result.editId))
    } else {
      fitFraction.value = null
      fitError.value = done.outcome === 'failed' ? done.error.message : 'The fit was cancelled.'
    }
  })
  // Whether each edit matches the model changes with the model.
  useContractEvent('model:changed', () => void refresh())

  return {
    edits,
    selectedId,
    selected,
    fitJobId,
    fitFraction,
    fitMessage,
    fitError,
    lastFit,
    fitting,
    savePath,
    exportPath,
    loadPath,
    note,
    select,
    refresh,
    fit,
    cancelFit,
    save,
    exportGguf,
    load,
  }
})
