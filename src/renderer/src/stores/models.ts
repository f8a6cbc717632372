import { defineStore } from 'pinia'
import { computed, ref } from 'vue'
import type { FolderListing, ModelDiscovery, ModelFootprint } from '../../../shared/studio.ts'
import type { VariantName } from '../../../shared/model-variants.ts'
import { useClient } from '../api.ts'
import { useContractEvent } from '../composables/use-contract-event.ts'
import { messageOf } from '../errors.ts'
import { useEngineStore } from './engine.ts'
import { useJobsStore } from './jobs.ts'

/**
 * The Models screen's state: what was discovered on disk, the loaded model's footprint, the folder the picker is
 * showing, and the GGUF import running now. Loading a model goes through the engine store, which follows the
 * load job; everything else is a request here.
 */
export const useModelsStore = defineStore('models', () => {
  const client = useClient()
  const engine = useEngineStore()
  const jobs = useJobsStore()

  const discovery = ref<ModelDiscovery | null>(null)
  const discovering = ref(false)
  const discoveryError = ref<string | null>(null)
  const footprint = ref<ModelFootprint | null>(null)
  const listing = ref<FolderListing | null>(null)
  const listingError = ref<string | null>(null)
  const folderError = ref<string | null>(null)
  const importJobId = ref<string | null>(null)
  const importError = ref<string | null>(null)
  const importedFolder = ref<string | null>(null)

  async function discover(): Promise<void> {
    discovering.value = true
    try {
      discovery.value = await client['models:discover']({})
      discoveryError.value = null
    } catch (thrown) {
      discoveryError.value = messageOf(thrown)
    } finally {
      discovering.value = false
    }
  }

  async function refreshFootprint(): Promise<void> {
    if (engine.status?.model == null) {
      footprint.value = null
      return
    }
    try {
      footprint.value = await client['model:details']({})
    } catch {
      // The footprint is a detail: without it the screen still shows the model.
      footprint.value = null
    }
  }

  async function load(path: string, variant?: VariantName): Promise<void> {
    await engine.loadModel(path, variant)
  }

  async function addFolder(path: string): Promise<void> {
    folderError.value = null
    try {
      await client['models:add-folder']({ path })
      await discover()
    } catch (thrown) {
      folderError.value = messageOf(thrown)
    }
  }

  async function removeFolder(path: string): Promise<void> {
    try {
      await client['models:remove-folder']({ path })
      await discover()
    } catch (thrown) {
      folderError.value = messageOf(thrown)
    }
  }

  /** The latest `browse`: an answer to an earlier one arriving after it (the picker's first listing) is dropped. */
  let browsing = 0

  /** Show `path` in the server-side picker (the home folder when omitted). */
  async function browse(path?: string): Promise<void> {
    const request = ++browsing
    try {
      const answer = await client['files:list'](path === undefined ? {} : { path })
      if (request !== browsing) return
      listing.value = answer
      listingError.value = null
    } catch (thrown) {
      if (request === browsing) listingError.value = messageOf(thrown)
    }
  }

  async function importGguf(file: string): Promise<void> {
    importError.value = null
    importedFolder.value = null
    try {
      importJobId.value = (await client['model:import-gguf']({ file })).id
    } catch (thrown) {
      importError.value = messageOf(thrown)
    }
  }

  const importJob = computed(() =>
    importJobId.value === null ? null : (jobs.jobs[importJobId.value] ?? null),
  )

  useContractEvent('job:done', (done) => {
    if (done.id !== importJobId.value) return
    importJobId.value = null
    if (done.outcome === 'succeeded' && done.kind === 'import-gguf') {
      importedFolder.value = done.result.folder
      void discover()
    } else if (done.outcome === 'failed') importError.value = done.error.message
    else importError.value = 'The import was cancelled.'
  })
  useContractEvent('model:changed', (state) => {
    if (state.model !== null && state.loading === null) {
      void refreshFootprint()
      // The engine recorded the load in the recent list.
      void discover()
    }
  })

  return {
    discovery,
    discovering,
    discoveryError,
    footprint,
    listing,
    listingError,
    folderError,
    importJob,
    importJobId,
    importError,
    importedFolder,
    discover,
    refreshFootprint,
    load,
    addFolder,
    removeFolder,
    browse,
    importGguf,
  }
})
