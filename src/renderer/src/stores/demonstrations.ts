import { defineStore } from 'pinia'
import { computed, ref } from 'vue'
import type {
  DemonstrationDocument,
  DemonstrationRow,
  ImportFormat,
  RenderPreview,
} from '../../../shared/demonstrations.ts'
import type { DatasetEntry, DatasetIssue } from '../../../shared/steering.ts'
import { useClient } from '../api.ts'
import { messageOf } from '../errors.ts'

/** A finished file operation, shown under the toolbar. */
export interface DemonstrationNote {
  kind: 'ok' | 'error'
  text: string
}

/** A blank row with the next free id. */
function blankRow(rows: readonly DemonstrationRow[]): DemonstrationRow {
  const taken = new Set(rows.map((row) => row.id))
  let number = rows.length + 1
  while (taken.has(`row-${number}`)) number++
  return { id: `row-${number}`, prompt: '', positive: '', negative: '', split: null, tags: [] }
}

/**
 * The Demonstrations screen: the workspace's sets, the open one's rows as an editable copy, its issues from the
 * engine's validator (the one the fit runs; issue line i + 1 is row i), saving, imports, export and the rendered
 * template text of a selected row.
 */
export const useDemonstrationsStore = defineStore('demonstrations', () => {
  const client = useClient()
  const sets = ref<DatasetEntry[]>([])
  /** The sets shipped with Tiller that open as tables; they are read-only until copied into the workspace. */
  const starterSets = ref<DatasetEntry[]>([])
  const document = ref<DemonstrationDocument | null>(null)
  const rows = ref<DemonstrationRow[]>([])
  const issues = ref<DatasetIssue[]>([])
  const dirty = ref(false)
  const busy = ref(false)
  const note = ref<DemonstrationNote | null>(null)
  const selectedRow = ref<number | null>(null)
  const rendered = ref<RenderPreview | null>(null)
  const renderError = ref<string | null>(null)
  let validation = 0

  const openName = computed(() => document.value?.entry.name ?? null)
  /** Issues by row index; line-0 issues concern the whole set. */
  const rowIssues = computed(() => {
    const byRow = new Map<number, DatasetIssue[]>()
    for (const issue of issues.value) {
      if (issue.line < 1) continue
      byRow.set(issue.line - 1, [...(byRow.get(issue.line - 1) ?? []), issue])
    }
    return byRow
  })
  const setIssues = computed(() => issues.value.filter((issue) => issue.line < 1))

  function fail(error: unknown): void {
    note.value = { kind: 'error', text: messageOf(error) }
  }

  function show(opened: DemonstrationDocument): void {
    document.value = opened
    rows.value = opened.rows.map((row) => ({ ...row, tags: [...row.tags] }))
    issues.value = opened.issues
    dirty.value = false
    selectedRow.value = null
    rendered.value = null
  }

  async function refresh(): Promise<void> {
    try {
      const [workspace, known] = await Promise.all([
        client['demonstrations:list']({}),
        client['datasets:list']({}),
      ])
      sets.value = workspace.datasets
      starterSets.value = known.datasets.filter(
        (entry) => entry.bundled && (entry.kind === 'pairs' || entry.kind === 'labelled'),
      )
    } catch (error) {
      fail(error)
    }
  }

  async function open(name: string): Promise<void> {
    try {
      show(await client['demonstrations:open']({ name }))
      note.value = null
    } catch (error) {
      fail(error)
    }
  }

  /** Create an empty set with one blank row, saved at once so it is listed. */
  async function create(name: string): Promise<boolean> {
    busy.value = true
    try {
      show(await client['demonstrations:save']({ name, rows: [blankRow([])], create: true }))
      note.value = { kind: 'ok', text: `Created ${name}.` }
      await refresh()
      return true
    } catch (error) {
      fail(error)
      return false
    } finally {
      busy.value = false
    }
  }

  /** Ask the engine's validator about the rows as they are now; a stale answer is dropped. */
  async function validate(): Promise<void> {
    const ticket = ++validation
    try {
      const found = await client['demonstrations:validate']({ rows: rows.value })
      if (ticket === validation) issues.value = found
    } catch (error) {
      if (ticket === validation) fail(error)
    }
  }

  function changed(): void {
    dirty.value = true
    void validate()
  }

  function updateRow(index: number, patch: Partial<DemonstrationRow>): void {
    const row = rows.value[index]
    if (row === undefined) return
    rows.value[index] = { ...row, ...patch }
    changed()
  }

  function addRow(): void {
    rows.value.push(blankRow(rows.value))
    changed()
  }

  function deleteRow(index: number): void {
    rows.value.splice(index, 1)
    if (selectedRow.value === index) selectedRow.value = null
    changed()
  }

  async function save(): Promise<void> {
    const name = openName.value
    if (name === null) return
    busy.value = true
    try {
      show(await client['demonstrations:save']({ name, rows: rows.value }))
      const count = issues.value.length
      note.value = {
        kind: 'ok',
        text: `Saved ${name} (version ${(document.value?.version ?? 0) + 1})${count > 0 ? `; ${count} issue(s) to fix before fitting` : ''}.`,
      }
      await refresh()
    } catch (error) {
      fail(error)
    } finally {
      busy.value = false
    }
  }

  async function remove(name: string): Promise<void> {
    try {
      await client['demonstrations:delete']({ name })
      if (openName.value === name) {
        document.value = null
        rows.value = []
        issues.value = []
      }
      await refresh()
    } catch (error) {
      fail(error)
    }
  }

  async function importFiles(format: ImportFormat, paths: string[], name: string): Promise<boolean> {
    busy.value = true
    try {
      show(await client['demonstrations:import']({ format, paths, name }))
      note.value = {
        kind: 'ok',
        text: `Imported ${rows.value.length || document.value?.entry.rows} rows as ${name}.`,
      }
      await refresh()
      return true
    } catch (error) {
      fail(error)
      return false
    } finally {
      busy.value = false
    }
  }

  /**
   * Open a starter set for editing: a copy in the workspace under the same name (made now, or the one made
   * before, which keeps the user's changes).
   */
  async function copyStarter(entry: DatasetEntry): Promise<void> {
    if (sets.value.some((set) => set.name === entry.name)) {
      await open(entry.name)
      if (openName.value === entry.name) {
        note.value = { kind: 'ok', text: `Opened your copy of the starter set ${entry.name}.` }
      }
      return
    }
    if (await importFiles('jsonl', [entry.path], entry.name)) {
      note.value = {
        kind: 'ok',
        text: `Copied the starter set ${entry.name} into your sets (${rows.value.length} rows); edit and save it here.`,
      }
    }
  }

  async function exportTo(path: string): Promise<void> {
    const name = openName.value
    if (name === null) return
    try {
      const saved = await client['demonstrations:export']({ name, path })
      note.value = { kind: 'ok', text: `Exported to ${saved.path} (${saved.bytes} bytes).` }
    } catch (error) {
      fail(error)
    }
  }

  /** Render row `index` with the loaded model's template. */
  async function render(index: number): Promise<void> {
    selectedRow.value = index
    const row = rows.value[index]
    if (row === undefined) return
    try {
      rendered.value = await client['demonstrations:render']({ row })
      renderError.value = null
    } catch (error) {
      rendered.value = null
      renderError.value = messageOf(error)
    }
  }

  return {
    sets,
    starterSets,
    copyStarter,
    document,
    rows,
    issues,
    dirty,
    busy,
    note,
    selectedRow,
    rendered,
    renderError,
    openName,
    rowIssues,
    setIssues,
    refresh,
    open,
    create,
    validate,
    updateRow,
    addRow,
    deleteRow,
    save,
    remove,
    importFiles,
    exportTo,
    render,
  }
})
