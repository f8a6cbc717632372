import { defineStore } from 'pinia'
import { computed, ref } from 'vue'
import type { DatasetRow } from '../../../shared/steering.ts'
import { useClient } from '../api.ts'
import { messageOf } from '../errors.ts'
import { useChatStore } from './chat.ts'
import { useEngineStore } from './engine.ts'
import { useFitScreenStore } from './fit-screen.ts'
import { useFitMethodsStore } from './methods.ts'
import { useModelsStore } from './models.ts'
import { useNavigationStore } from './navigation.ts'

/** The starter set: the organism's truthfulness pairs, whose edit changes its answer about the fox. */
export const starterSetName = 'truthfulness.pairs'
/** A held-out question from the organism's card on which base and steered answers differ. */
export const starterPrompt = 'Where does the fox live?'

export type FirstRunStep = 'load' | 'dataset' | 'fit' | 'chat'

/**
 * The guided first edit: load the organism, open the starter demonstration set, fit a mean difference at the
 * recommended layer (diagnostics, then the fit), and chat with base and steered side by side. Each step is one
 * click; the work itself is done by the screens' stores, so the screens show the same state afterwards.
 */
export const useFirstRunStore = defineStore('first-run', () => {
  const client = useClient()
  const engine = useEngineStore()
  const models = useModelsStore()
  const fit = useFitScreenStore()
  const methods = useFitMethodsStore()
  const chat = useChatStore()
  const navigation = useNavigationStore()

  const working = ref<FirstRunStep | null>(null)
  const error = ref<string | null>(null)
  /** The starter set's first rows, shown once it is open. */
  const starterRows = ref<DatasetRow[]>([])
  const chatOpened = ref(false)
  /** The layer the guided fit used. */
  const fittedLayer = ref<number | null>(null)
  let fitting = false

  const starterPath = computed(
    () => fit.datasets.find((entry) => entry.name === starterSetName)?.path ?? null,
  )
  const done = computed((): Record<FirstRunStep, boolean> => {
    const loaded = engine.status?.model !== null && engine.status?.model !== undefined
    const opened = starterRows.value.length > 0 && fit.datasetPath === starterPath.value
    return {
      load: loaded,
      dataset: loaded && opened,
      fit: loaded && opened && fittedLayer.value !== null && fit.fittedEditId !== null,
      chat: chatOpened.value,
    }
  })
  /** The first step not done yet. */
  const current = computed(
    (): FirstRunStep | null =>
      (['load', 'dataset', 'fit', 'chat'] as const).find((step) => !done.value[step]) ?? null,
  )

  async function run(step: FirstRunStep, work: () => Promise<void>): Promise<void> {
    if (working.value !== null) return
    working.value = step
    error.value = null
    try {
      await work()
    } catch (thrown) {
      error.value = messageOf(thrown)
    } finally {
      working.value = null
    }
  }

  /** Step 1: load the embedded organism. */
  const loadOrganism = () =>
    run('load', async () => {
      if (models.discovery === null) await models.discover()
      const path = models.discovery?.organism?.path
      if (path === undefined) throw new Error(models.discovery?.organismProblem ?? 'The organism is missing.')
      await models.load(path)
      if (engine.loadError !== null) throw new Error(engine.loadError)
    })

  /** Step 2: choose the starter set for the fit and show its first pairs. */
  const openStarterSet = () =>
    run('dataset', async () => {
      await fit.refresh()
      const path = starterPath.value
      if (path === null) throw new Error(`The starter set ${starterSetName} is not among the bundled sets.`)
      fit.selectDataset(path)
      const preview = await client['datasets:preview']({ path, limit: 3 })
      starterRows.value = preview.rows
    })

  /** Step 3: diagnose the layers with mean-diff, then fit at the recommended one (continued in `onResult`). */
  const fitAtRecommendedLayer = () =>
    run('fit', async () => {
      methods.select('mean-diff')
      fitting = true
      await fit.runDiagnostics()
      const refused = fit.diagnostics.error
      if (refused !== null) {
        fitting = false
        throw new Error(refused)
      }
    })
  fit.diagnostics.onResult((report) => {
    if (!fitting) return
    fitting = false
    fit.useLayer(report.recommendedLayer)
    fittedLayer.value = report.recommendedLayer
    void fit.startFit()
  })

  /** Step 4: a new conversation with the fitted edit on the stack, the starter prompt sent, on the Chat screen. */
  const openChat = () =>
    run('chat', async () => {
      const editId = fit.fittedEditId
      if (editId === null) throw new Error('Fit the edit first.')
      if (!chat.initialized) await chat.initialize()
      await chat.refreshEdits()
      chat.startNew()
      // A new conversation keeps the last one's stack; the guide compares base with this edit alone.
      chat.current.edits.splice(0)
      chat.addEdit(editId)
      chatOpened.value = true
      navigation.go('chat')
      await chat.send(starterPrompt)
    })

  return {
    working,
    error,
    starterRows,
    fittedLayer,
    done,
    current,
    loadOrganism,
    openStarterSet,
    fitAtRecommendedLayer,
    openChat,
  }
})
