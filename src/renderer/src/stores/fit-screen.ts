import { defineStore } from 'pinia'
import { computed, ref } from 'vue'
import type { MethodId } from '../../../shared/edit.ts'
import type { DatasetEntry } from '../../../shared/steering.ts'
import { useClient } from '../api.ts'
import { useContractEvent } from '../composables/use-contract-event.ts'
import { messageOf } from '../errors.ts'
import { useJobFollower } from './job-follower.ts'
import { useFitMethodsStore } from './methods.ts'

/**
 * The Fit screen: which demonstration set, the layer diagnostics of it at the chosen method's site (a job), and
 * the fit (a job with progress, time left and cancel). Method, options and layers live in the Fit screen’s own
 * methods store (`useFitMethodsStore`), apart from the Compare workbench’s.
 */
export const useFitScreenStore = defineStore('fit-screen', () => {
  const client = useClient()
  const methods = useFitMethodsStore()
  const cancel = (id: string) => client['job:cancel']({ id })

  const datasets = ref<DatasetEntry[]>([])
  const datasetPath = ref<string | null>(null)
  const listError = ref<string | null>(null)
  /** Files the user added by path this session. */
  const addedPaths = ref<string[]>([])
  const diagnostics = useJobFollower('diagnostics', cancel)
  const fit = useJobFollower('fit', cancel)
  /** The strength the fitted edit is diagnosed at; the method's default once a fit succeeds. */
  const editStrength = ref<number | null>(null)
  /** The edit this screen fitted last, which the next diagnosis measures. */
  const fittedEditId = computed(() => fit.result.value?.editId ?? null)

  const dataset = computed(() => datasets.value.find((entry) => entry.path === datasetPath.value) ?? null)
  /** The diagnostics shown: only those of the chosen set. */
  const report = computed(() => {
    const value = diagnostics.result.value
    return value !== null && value.dataset === datasetPath.value ? value : null
  })
  const canFit = computed(
    () =>
      dataset.value !== null &&
      methods.selected !== null &&
      methods.layersProblem === null &&
      fit.id.value === null,
  )

  async function refresh(): Promise<void> {
    try {
      const listed = [...(await client['datasets:list']({})).datasets]
      for (const path of addedPaths.value)
        for (const entry of (await client['datasets:list']({ path })).datasets)
          if (!listed.some((known) => known.path === entry.path)) listed.push(entry)
      datasets.value = listed.filter((entry) => entry.trainPairs > 0)
      listError.value = null
      if (dataset.value === null) datasetPath.value = datasets.value[0]?.path ?? null
    } catch (thrown) {
      listError.value = messageOf(thrown)
    }
    await methods.refresh()
  }

  /** Add a demonstration file by path and choose it. */
  async function addDataset(path: string): Promise<void> {
    try {
      const added = (await client['datasets:list']({ path })).datasets.filter((entry) => entry.trainPairs > 0)
      if (added.length === 0) {
        listError.value = `${path} has no training pairs to fit on.`
        return
      }
      if (!addedPaths.value.includes(path)) addedPaths.value.push(path)
      await refresh()
      datasetPath.value = added[0]?.path ?? datasetPath.value
    } catch (thrown) {
      listError.value = messageOf(thrown)
    }
  }

  function selectDataset(path: string): void {
    datasetPath.value = path
  }

  async function runDiagnostics(): Promise<void> {
    const path = datasetPath.value
    if (path === null) return
    await diagnostics.start(() =>
      client['diagnostics:layers']({
        dataset: path,
        method: methods.selectedId as MethodId,
        options: methods.values,
        ...(fittedEditId.value === null || editStrength.value === null
          ? {}
          : { edit: { id: fittedEditId.value, strength: editStrength.value } }),
      }),
    )
  }

  /** Fit at `layer` (e.g. the recommended one). */
  function useLayer(layer: number): void {
    methods.layersText = String(layer)
  }

  async function startFit(): Promise<void> {
    const path = datasetPath.value
    if (path === null || !canFit.value) return
    const strength = methods.selected?.strength.default ?? 1
    await fit.start(() =>
      client['edit:fit']({
        dataset: path,
        method: methods.selectedId as MethodId,
        options: methods.fitOptions,
      }),
    )
    editStrength.value = strength
  }

  useContractEvent('model:changed', () => void refresh())

  return {
    datasets,
    datasetPath,
    dataset,
    listError,
    diagnostics,
    fit,
    report,
    canFit,
    editStrength,
    fittedEditId,
    refresh,
    addDataset,
    selectDataset,
    runDiagnostics,
    useLayer,
    startFit,
  }
})
