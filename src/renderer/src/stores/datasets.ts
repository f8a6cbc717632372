import { defineStore } from 'pinia'
import { computed, ref } from 'vue'
import type { DatasetEntry, DatasetPreview } from '../../../shared/steering.ts'
import { useClient } from '../api.ts'
import { messageOf } from '../errors.ts'

/** Rows shown in a preview. */
const previewRows = 8

/** The demonstration sets the Steer view offers: bundled ones, paths the user added, and the chosen set's preview. */
export const useDatasetsStore = defineStore('datasets', () => {
  const client = useClient()
  const entries = ref<DatasetEntry[]>([])
  const bundledDirectory = ref<string | null>(null)
  /** Files and folders the user added this session; listed after the bundled sets. */
  const userPaths = ref<string[]>([])
  const selectedPath = ref<string | null>(null)
  const preview = ref<DatasetPreview | null>(null)
  const loading = ref(false)
  const error = ref<string | null>(null)
  const addError = ref<string | null>(null)

  const selected = computed(() => entries.value.find((entry) => entry.path === selectedPath.value) ?? null)
  /** Sets a fit can use: pairs or labelled rows with at least one training pair. */
  const fittable = computed(() => entries.value.filter((entry) => entry.trainPairs > 0))

  async function listAll(): Promise<DatasetEntry[]> {
    const bundled = await client['datasets:list']({})
    bundledDirectory.value = bundled.bundledDirectory
    const listed = [...bundled.datasets]
    for (const path of userPaths.value) {
      const extra = await client['datasets:list']({ path })
      for (const entry of extra.datasets) if (!entry.bundled) listed.push(entry)
    }
    const unique = new Map(listed.map((entry) => [entry.path, entry]))
    return [...unique.values()]
  }

  /** Read the list again; keeps the selection when it is still there, else picks the first fittable set. */
  async function refresh(): Promise<void> {
    loading.value = true
    try {
      entries.value = await listAll()
      error.value = null
      const still = entries.value.some((entry) => entry.path === selectedPath.value)
      if (!still) await select(fittable.value[0]?.path ?? null)
    } catch (thrown) {
      error.value = messageOf(thrown)
    } finally {
      loading.value = false
    }
  }

  /** Choose a set and load its preview. */
  async function select(path: string | null): Promise<void> {
    selectedPath.value = path
    preview.value = null
    if (path === null) return
    try {
      const answer = await client['datasets:preview']({ path, limit: previewRows })
      if (selectedPath.value === path) preview.value = answer
      error.value = null
    } catch (thrown) {
      error.value = messageOf(thrown)
    }
  }

  /** Add a file or folder the user typed; selects the first set it brought. */
  async function addPath(path: string): Promise<boolean> {
    addError.value = null
    try {
      const answer = await client['datasets:list']({ path })
      const added = answer.datasets.filter((entry) => !entry.bundled)
      if (!userPaths.value.includes(path)) userPaths.value.push(path)
      await refresh()
      const first = added[0]
      if (first !== undefined) await select(first.path)
      return true
    } catch (thrown) {
      addError.value = messageOf(thrown)
      return false
    }
  }

  return {
    entries,
    bundledDirectory,
    selectedPath,
    selected,
    fittable,
    preview,
    loading,
    error,
    addError,
    refresh,
    select,
    addPath,
  }
})
