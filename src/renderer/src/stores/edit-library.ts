import { defineStore } from 'pinia'
import { computed, ref } from 'vue'
import type { LibraryEdit } from '../../../shared/edit-library.ts'
import { useClient } from '../api.ts'
import { useContractEvent } from '../composables/use-contract-event.ts'
import { messageOf } from '../errors.ts'

/** A finished operation, shown under the edit. */
export interface LibraryNote {
  kind: 'ok' | 'error'
  text: string
}

/** `name.ext` beside the edit's suggested file. */
function sibling(path: string, extension: string): string {
  return path.replace(/\.safetensors$/i, '') + extension
}

/**
 * The Edits library: every edit of the workspace with its manifest, the selected one's rename, notes, exports
 * (Tiller file, control vector, steered ONNX folder as a job) and delete, composing several, and importing files.
 */
export const useEditLibraryStore = defineStore('edit-library', () => {
  const client = useClient()
  const edits = ref<LibraryEdit[]>([])
  const selectedId = ref<string | null>(null)
  const note = ref<LibraryNote | null>(null)
  const exportJob = ref<string | null>(null)
  const exportMessage = ref('')

  const selected = computed(() => edits.value.find((edit) => edit.id === selectedId.value) ?? null)
  /** Suggested output paths for the selected edit. */
  const suggested = computed(() => {
    const path = selected.value?.suggestedPath ?? ''
    return { tiller: path, gguf: sibling(path, '.gguf'), onnx: sibling(path, '-steered') }
  })

  function fail(error: unknown): void {
    note.value = { kind: 'error', text: messageOf(error) }
  }

  async function refresh(): Promise<void> {
    try {
      edits.value = await client['library:list']({})
      if (selected.value === null) selectedId.value = edits.value[0]?.id ?? null
    } catch (error) {
      fail(error)
    }
  }

  function select(id: string): void {
    selectedId.value = id
    note.value = null
  }

  function replace(edit: LibraryEdit): void {
    const index = edits.value.findIndex((entry) => entry.id === edit.id)
    if (index < 0) edits.value.unshift(edit)
    else edits.value[index] = edit
  }

  async function update(changes: { name?: string; notes?: string }): Promise<void> {
    const id = selectedId.value
    if (id === null) return
    try {
      replace(await client['library:update']({ id, ...changes }))
      note.value = { kind: 'ok', text: changes.name !== undefined ? 'Renamed.' : 'Notes saved.' }
    } catch (error) {
      fail(error)
    }
  }

  async function remove(): Promise<void> {
    const id = selectedId.value
    if (id === null) return
    try {
      await client['library:delete']({ id })
      edits.value = edits.value.filter((edit) => edit.id !== id)
      selectedId.value = edits.value[0]?.id ?? null
    } catch (error) {
      fail(error)
    }
  }

  async function compose(name: string, parts: { id: string; strength: number }[]): Promise<boolean> {
    try {
      const composed = await client['library:compose']({ name, parts })
      replace(composed)
      selectedId.value = composed.id
      note.value = { kind: 'ok', text: `Composed ${name} from ${parts.length} edits.` }
      return true
    } catch (error) {
      fail(error)
      return false
    }
  }

  async function importFile(path: string): Promise<void> {
    try {
      const imported = await client['library:import']({ path })
      replace(imported)
      selectedId.value = imported.id
      note.value = { kind: 'ok', text: `Imported ${imported.name}.` }
    } catch (error) {
      fail(error)
    }
  }

  async function exportFile(kind: 'tiller' | 'gguf', path: string): Promise<void> {
    const id = selectedId.value
    if (id === null) return
    try {
      const saved =
        kind === 'tiller'
          ? await client['edit:save']({ id, path })
          : await client['edit:export-gguf']({ id, path })
      note.value = { kind: 'ok', text: `Wrote ${saved.path} (${saved.bytes} bytes).` }
    } catch (error) {
      fail(error)
    }
  }

  async function exportOnnx(path: string, strength: number, replaceFolder: boolean): Promise<void> {
    const id = selectedId.value
    if (id === null) return
    try {
      const started = await client['library:export-onnx']({ id, path, strength, replace: replaceFolder })
      exportJob.value = started.id
      exportMessage.value = 'Compiling the edit into the model…'
    } catch (error) {
      fail(error)
    }
  }

  useContractEvent('job:progress', (progress) => {
    if (progress.id === exportJob.value) exportMessage.value = progress.message
  })
  useContractEvent('job:done', (done) => {
    if (done.id !== exportJob.value) return
    exportJob.value = null
    exportMessage.value = ''
    if (done.outcome === 'succeeded' && done.kind === 'export-onnx') {
      const result = done.result
      note.value = {
        kind: 'ok',
        text: `Steered model written to ${result.path} (strength ${result.strength}).`,
      }
    } else if (done.outcome !== 'succeeded') {
      note.value = {
        kind: 'error',
        text: done.outcome === 'failed' ? done.error.message : 'Export cancelled.',
      }
    }
  })

  return {
    edits,
    selectedId,
    selected,
    suggested,
    note,
    exportJob,
    exportMessage,
    refresh,
    select,
    update,
    remove,
    compose,
    importFile,
    exportFile,
    exportOnnx,
  }
})
