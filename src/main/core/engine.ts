import packageJson from '../../../package.json' with { type: 'json' }
import {
  parseRequestArgs,
  type ContractEvent,
  type ContractService,
  type EngineStatusReport,
  type ModelState,
  type Unsubscribe,
} from '../../shared/contract.ts'
import type { ExecutionProviderChoice, ProviderReport } from '../../shared/engine-status.ts'
import type { JobKind } from '../../shared/jobs.ts'
import { bundledDatasetsDirectory } from './engine/dataset-catalog.ts'
import type { EngineModel, EngineRuntime } from './engine/engine-runtime.ts'
import { createChatRequests } from './engine/chat-requests.ts'
import { createDemonstrationRequests } from './engine/demonstration-requests.ts'
import { EditLibrary } from './engine/edit-library.ts'
import { EditStore } from './engine/edit-store.ts'
import { createEvaluationRequests } from './engine/evaluation-requests.ts'
import { fingerprintCache } from './engine/fingerprint-cache.ts'
import { createLibraryRequests } from './engine/library-requests.ts'
import { workspaceFolder } from './workspace/workspace-root.ts'
import { createSteeringRequests } from './engine/steering-requests.ts'
import { createStudioRequests, type StudioContext } from './engine/studio-requests.ts'
import type { VariantName } from '../../shared/model-variants.ts'
import { TillerError } from './errors.ts'
import { JobRegistry } from './jobs/job-registry.ts'

export type {
  EngineChatRequest,
  EngineCompareRequest,
  EngineFit,
  EngineFitRequest,
  EngineGenerationRequest,
  EngineModel,
  EngineRuntime,
} from './engine/engine-runtime.ts'
export { createRealRuntime } from './engine/real-runtime.ts'

/**
 * The engine: the service object behind the contract (DESIGN.md §7). It owns the loaded model and the running
 * jobs, parses every argument with the contract's schema, and composes the runtime's functions through the
 * `EngineRuntime` seam, so the transports and the renderer can be tested against a fake runtime and the real
 * one (`src/main/core/runtime/`) plugs in unchanged. The same object serves Electron's utility process, browser
 * mode's server and tests.
 */

/** How an engine is set up. */
export interface EngineOptions<Model extends EngineModel> {
  runtime: EngineRuntime<Model>
  /** Execution provider preference for status and model loading. */
  provider?: ExecutionProviderChoice
  /** The bundled demonstration sets; default: `resources/datasets` of the app or checkout (null: none). */
  datasetsDirectory?: string | null
  /** Where Save proposes to write new edits; default `~/Tiller/edits`. */
  editsDirectory?: string
  /** Where conversations are saved; default the workspace's `chats` folder. */
  chatsDirectory?: string
  /** Where evaluation runs are saved; default the workspace's `runs/`. */
  runsDirectory?: string
  /** Where the studio keeps settings, imports GGUF models and looks for the Hugging Face cache (defaults: the workspace, the environment). */
  studio?: Pick<StudioContext, 'settingsPath' | 'importedModelsFolder' | 'huggingFaceCache'>
  /** Where every fitted or imported edit is kept; default the workspace's `edits` folder; null: this session only. */
  editLibraryDirectory?: string | null
  /** The workspace's demonstration sets; default its `datasets` folder. */
  workspaceDatasetsDirectory?: string
}

/** Jobs that use the loaded model and stop when another model loads. */
const modelJobKinds: readonly JobKind[] = [
  'generate',
  'fit',
  'compare',
  'chat',
  'diagnostics',
  'evaluate',
  'export-onnx',
]

/** The contract's service plus lifecycle calls for whoever hosts the engine. */
export type Engine = ContractService & {
  /** Start loading the embedded default model; when it is missing, record why and return null. */
  loadDefaultModel(): { id: string } | null
  /** Cancel every job and release the model. */
  dispose(): Promise<void>
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error)
}

/** The probe report, corrected to the provider the loaded model really runs on when its session fell back. */
function effectiveProviders(report: ProviderReport, model: EngineModel | null): ProviderReport {
  const running = model?.provider
  if (running === undefined || running === report.active) return report
  const reason = model?.providerFallbackReason
  return {
    active: running,
    probes: report.probes.map((probe) =>
      probe.name === report.active && reason !== undefined ? { ...probe, reason } : probe,
    ),
  }
}

/** Create an engine over `runtime`. Nothing is loaded until `model:load` or `loadDefaultModel()`. */
export function createEngine<Model extends EngineModel>(options: EngineOptions<Model>): Engine {
  const { runtime } = options
  const provider = options.provider ?? 'auto'
  const listeners = new Set<(event: ContractEvent) => void>()
  const emit = (event: ContractEvent): void => {
    for (const listener of [...listeners]) {
      try {
        listener(event)
      } catch {
        // A failing subscriber (a closed socket) must not stop the others or the job that emitted.
      }
    }
  }
  const jobs = new JobRegistry(emit)
  let model: Model | null = null
  let loading: ModelState['loading'] = null
  let problem: string | null = 'No model is loaded yet. Load a model folder.'
  let providerReport: Promise<ProviderReport> | null = null
  const { rememberModel, ...studioRequests } = createStudioRequests({
    ...options.studio,
    jobs,
    currentModel: () => model,
    defaultModelFolder: () => runtime.defaultModelFolder(),
  })

  const modelState = (): ModelState => ({ model: model?.info ?? null, loading, problem })
  const announceModel = (): void => emit({ name: 'model:changed', payload: modelState() })
  const probe = (): Promise<ProviderReport> => {
    // Probing is cheap but not free; the answer does not change while the process lives.
    providerReport ??= runtime.probeProviders(provider).catch((error: unknown) => {
      providerReport = null
      throw error
    })
    return providerReport
  }

  const startLoad = (path: string, variant?: VariantName): { id: string; kind: 'model:load' } => {
    for (const job of jobs.list('model:load')) jobs.cancel(job.id)
    const started = jobs.start('model:load', path, async ({ signal, progress }) => {
      try {
        progress(null, 'Stopping work on the current model…')
        await Promise.all(modelJobKinds.map((kind) => jobs.cancelAll(kind)))
        progress(null, `Loading ${path}…`)
        const loaded = await runtime.loadModel(path, { provider, variant })
        if (signal.aborted) {
          await loaded.dispose()
          throw new TillerError('cancelled', `Loading ${path} was cancelled.`)
        }
        const previous = model
        model = loaded
        problem = null
        await previous?.dispose()
        await rememberModel(loaded.info)
        return loaded.info
      } catch (error) {
        if (!signal.aborted) problem = `Could not load ${path}: ${errorMessage(error)}`
        throw error
      } finally {
        if (loading?.jobId === started.id) loading = null
        announceModel()
      }
    })
    loading = { jobId: started.id, path }
    announceModel()
    return started
  }

  const readyModel = (action: string): Model => {
    const current = model
    if (current === null || loading !== null) {
      const reason =
        loading !== null ? `${loading.path} is still loading; wait for it.` : 'Load a model first.'
      throw new TillerError('model-not-loaded', `No model is ready to ${action}. ${reason}`)
    }
    return current
  }
  const bundledDatasets =
    options.datasetsDirectory === undefined ? bundledDatasetsDirectory() : options.datasetsDirectory
  const libraryFolder =
    options.editLibraryDirectory === undefined ? workspaceFolder('edits') : options.editLibraryDirectory
  const editStore = new EditStore(
    options.editsDirectory,
    libraryFolder === null ? null : new EditLibrary(libraryFolder),
  )
  const fingerprintOf = fingerprintCache(runtime)
  const steering = createSteeringRequests({
    runtime,
    jobs,
    emit,
    currentModel: () => model,
    readyModel,
    bundledDatasets,
    editStore,
    fingerprintOf,
  })
  const chat = createChatRequests({
    runtime,
    jobs,
    emit,
    readyModel,
    editStore,
    fingerprintOf,
    chatsDirectory: options.chatsDirectory,
  })
  const evaluation = createEvaluationRequests({
    runtime,
    jobs,
    currentModel: () => model,
    readyModel,
    store: editStore,
    fingerprintOf,
    bundledDatasets,
    runsDirectory: options.runsDirectory,
  })

  const demonstrations = createDemonstrationRequests({
    readyModel,
    datasetsDirectory: options.workspaceDatasetsDirectory,
  })
  const library = createLibraryRequests({
    jobs,
    currentModel: () => model,
    readyModel,
    editStore,
    fingerprintOf,
  })

  const engine: Engine = {
    ...steering,
    ...chat,
    ...evaluation,
    ...studioRequests,
    ...demonstrations,
    ...library,

    /** The bundled sets and the user's path as before, then the workspace's own sets, so they can be fitted on. */
    async 'datasets:list'(args) {
      const listed = await steering['datasets:list'](args)
      const known = new Set(listed.datasets.map((entry) => entry.path))
      const workspace = await demonstrations['demonstrations:list']({})
      const added = workspace.datasets.filter((entry) => !known.has(entry.path))
      return { ...listed, datasets: [...listed.datasets, ...added] }
    },

    async 'engine:status'(args): Promise<EngineStatusReport> {
      parseRequestArgs('engine:status', args)
      const [versions, providers] = await Promise.all([runtime.versions(), probe()])
      return {
        tillerVersion: packageJson.version,
        onnxRuntimeVersion: versions.onnxRuntime,
        transformersVersion: versions.transformers,
        platform: `${process.platform}-${process.arch}`,
        providers: effectiveProviders(providers, model),
        model: model?.info ?? null,
        modelLoading: loading,
        modelProblem: problem,
      }
    },

    async 'model:info'(args) {
      parseRequestArgs('model:info', args)
      return modelState()
    },

    async 'model:load'(args) {
      const { path, variant } = parseRequestArgs('model:load', args)
      return startLoad(path, variant)
    },

    async 'generate:start'(args) {
      const request = parseRequestArgs('generate:start', args)
      if (request.prompt.trim() === '') {
        throw new TillerError('empty-prompt', 'The prompt is empty. Type a prompt to generate from.', {
          subject: 'prompt',
        })
      }
      const current = readyModel('generate')
      const label = request.prompt.length > 60 ? `${request.prompt.slice(0, 57)}…` : request.prompt
      return jobs.start('generate', label, async ({ id, signal, progress }) => {
        progress(null, 'Generating…')
        return runtime.generate(current, {
          prompt: request.prompt,
          chat: request.chat,
          options: request.options,
          signal,
          onToken: (row, token, text) =>
            emit({ name: 'generate:token', payload: { jobId: id, row, token, text } }),
        })
      })
    },

    async 'job:cancel'(args) {
      const { id } = parseRequestArgs('job:cancel', args)
      return { cancelled: jobs.cancel(id) }
    },

    async 'job:list'(args) {
      parseRequestArgs('job:list', args)
      return jobs.list()
    },

    subscribe(listener): Unsubscribe {
      listeners.add(listener)
      return () => listeners.delete(listener)
    },

    loadDefaultModel() {
      let folder: string
      try {
        folder = runtime.defaultModelFolder()
      } catch (error) {
        problem = `No default model: ${errorMessage(error)}`
        announceModel()
        return null
      }
      return startLoad(folder)
    },

    async dispose() {
      for (const job of jobs.list()) jobs.cancel(job.id)
      await Promise.all(jobs.list().map((job) => jobs.settled(job.id)))
      await model?.dispose()
      model = null
      listeners.clear()
    },
  }
  return engine
}
