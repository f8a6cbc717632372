import { defineStore } from 'pinia'
import { computed, ref } from 'vue'
import { sweepStrengths, type EvaluationRun } from '../../../shared/evaluation.ts'
import type { DatasetEntry, EditSummary } from '../../../shared/steering.ts'
import { useClient } from '../api.ts'
import { useContractEvent } from '../composables/use-contract-event.ts'
import { messageOf } from '../errors.ts'
import { useJobFollower } from './job-follower.ts'

/** Parse "−2, 0, 1.5" into numbers; null when any part is not a finite number. */
export function parseStrengths(text: string): number[] | null {
  const parts = text
    .replaceAll('−', '-')
    .split(/[\s,]+/)
    .filter((part) => part !== '')
  const values = parts.map(Number)
  return values.length > 0 && values.every(Number.isFinite) ? values : null
}

/** The item set matching an edit's behaviour (its label names the demonstration set), else the first. */
function itemSetFor(edit: EditSummary | null, sets: readonly DatasetEntry[]): DatasetEntry | null {
  const matching = sets.find((set) => edit?.label.includes(`${set.behaviour}.`) === true)
  return matching ?? sets[0] ?? null
}

/**
 * The Evaluate screen: which edit and item set, the sweep's strengths, the evaluation job, the saved runs (read
 * from the workspace, so a reload shows them) and picking a strength for the edit.
 */
export const useEvaluateScreenStore = defineStore('evaluate-screen', () => {
  const client = useClient()
  const edits = ref<EditSummary[]>([])
  const itemSets = ref<DatasetEntry[]>([])
  const editId = ref<string | null>(null)
  const datasetPath = ref<string | null>(null)
  const strengthsText = ref('')
  /** Items (and texts) per split and set; null for all. */
  const itemLimit = ref<number | null>(null)
  const sideEffects = ref(true)
  const runs = ref<EvaluationRun[]>([])
  const runProblems = ref<string[]>([])
  const selectedRunId = ref<string | null>(null)
  const error = ref<string | null>(null)
  const note = ref<string | null>(null)
  const job = useJobFollower('evaluate', (id) => client['job:cancel']({ id }))

  const edit = computed(() => edits.value.find((entry) => entry.id === editId.value) ?? null)
  const strengths = computed(() => parseStrengths(strengthsText.value))
  // Blank before an edit is chosen is not yet a mistake: choosing the edit fills in its tested range.
  const strengthsProblem = computed(() =>
    strengths.value === null && (editId.value !== null || strengthsText.value.trim() !== '')
      ? 'Strengths are numbers separated by commas, e.g. -2, 0, 2.'
      : null,
  )
  const run = computed(
    () => runs.value.find((entry) => entry.id === selectedRunId.value) ?? runs.value[0] ?? null,
  )
  const canRun = computed(
    () =>
      edit.value !== null && datasetPath.value !== null && strengths.value !== null && job.id.value === null,
  )

  function selectEdit(id: string | null): void {
    editId.value = id
    const chosen = edit.value
    if (chosen === null) return
    strengthsText.value = sweepStrengths(chosen.strength.testedRange).join(', ')
    datasetPath.value = itemSetFor(chosen, itemSets.value)?.path ?? datasetPath.value
  }

  async function refreshRuns(): Promise<void> {
    const listed = await client['evaluation:runs']({})
    runs.value = listed.runs
    runProblems.value = listed.problems
  }

  async function refresh(): Promise<void> {
    try {
      const [held, listed] = await Promise.all([client['edits:list']({}), client['datasets:list']({})])
      edits.value = held
      itemSets.value = listed.datasets.filter((entry) => entry.kind === 'choices')
      if (edit.value === null) selectEdit(held.at(-1)?.id ?? null)
      if (datasetPath.value === null) datasetPath.value = itemSetFor(edit.value, itemSets.value)?.path ?? null
      await refreshRuns()
      error.value = null
    } catch (thrown) {
      error.value = messageOf(thrown)
    }
  }

  async function start(): Promise<void> {
    const id = editId.value
    const dataset = datasetPath.value
    const grid = strengths.value
    if (id === null || dataset === null || grid === null) return
    note.value = null
    await job.start(() =>
      client['evaluation:run']({
        editId: id,
        dataset,
        strengths: grid,
        sideEffects: sideEffects.value,
        ...(itemLimit.value === null ? {} : { itemLimit: itemLimit.value }),
      }),
    )
  }

  /** Make `strength` the default strength of the run's edit. */
  async function pickStrength(strength: number): Promise<void> {
    const current = run.value
    if (current === null) return
    try {
      const summary = await client['edit:set-strength']({ id: current.edit.id, strength })
      edits.value = edits.value.map((entry) => (entry.id === summary.id ? summary : entry))
      note.value = `Strength ${strength} is now the default of ${summary.label}.`
    } catch (thrown) {
      note.value = messageOf(thrown)
    }
  }

  job.onResult((finished) => {
    runs.value = [finished, ...runs.value.filter((entry) => entry.id !== finished.id)]
    selectedRunId.value = finished.id
  })
  useContractEvent('job:done', (event) => {
    if (event.kind === 'fit' && event.outcome === 'succeeded') {
      const fitted = event.result.editId
      void refresh().then(() => selectEdit(fitted))
    }
  })
  useContractEvent('model:changed', () => void refresh())

  return {
    edits,
    itemSets,
    editId,
    edit,
    datasetPath,
    strengthsText,
    strengths,
    strengthsProblem,
    itemLimit,
    sideEffects,
    runs,
    runProblems,
    selectedRunId,
    run,
    error,
    note,
    job,
    canRun,
    selectEdit,
    refresh,
    refreshRuns,
    start,
    pickStrength,
  }
})
