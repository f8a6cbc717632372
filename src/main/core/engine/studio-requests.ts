/**
 * The studio shell's side of the contract: settings in the workspace, model discovery (the organism, recent
 * models, folders the user added, the workspace's imported models and the Hugging Face cache), the loaded
 * model's footprint, GGUF import as a job, and the server-side folder listing of browser mode.
 */
import { existsSync } from 'node:fs'
import { mkdir, readdir } from 'node:fs/promises'
import { basename, join, resolve } from 'node:path'
import { parseRequestArgs, type ContractService } from '../../../shared/contract.ts'
import type { LoadedModelInfo } from '../../../shared/engine-status.ts'
import type { ModelDiscovery, StudioSettings } from '../../../shared/studio.ts'
import { TillerError } from '../errors.ts'
import { listFolder } from '../files/folder-listing.ts'
import type { JobRegistry } from '../jobs/job-registry.ts'
import { discoverHuggingFaceModels, huggingFaceCacheFolder } from '../models/discovery/hugging-face-cache.ts'
import { scanModelFolder } from '../models/discovery/local-folders.ts'
import { describeModelFolder } from '../models/discovery/model-folder.ts'
import { modelFootprint } from '../models/discovery/model-footprint.ts'
import { exportModelFolder } from '../models/exporter/index.ts'
import { defaultExportDtype } from '../models/importers/gguf/default-dtype.ts'
import { openGgufImport } from '../models/importers/gguf/import-gguf.ts'
import {
  readSettings,
  updateSettings,
  withModelFolder,
  withRecentModel,
} from '../workspace/studio-settings.ts'
import { workspaceRoot, workspaceSettingsPath } from '../workspace/workspace-root.ts'
import type { EngineModel } from './engine-runtime.ts'

/** What the studio requests need from the engine that hosts them. */
export interface StudioContext {
  jobs: JobRegistry
  /** The loaded model, or null. */
  currentModel(): EngineModel | null
  /** The embedded default model's folder (throws a TillerError saying why when it is missing). */
  defaultModelFolder(): string
  /** The settings file; default: the workspace's settings.json. */
  settingsPath?: string
  /** Where GGUF imports go by default; default: the workspace's `models` folder. */
  importedModelsFolder?: string
  /** The Hugging Face hub cache; default: from HF_HUB_CACHE / HF_HOME / the home folder. */
  huggingFaceCache?: string
}

type StudioRequestName =
  | 'settings:read'
  | 'settings:update'
  | 'models:discover'
  | 'models:add-folder'
  | 'models:remove-folder'
  | 'model:details'
  | 'model:import-gguf'
  | 'files:list'

/** The studio's requests, plus what the engine calls when a model loads. */
export type StudioRequests = Pick<ContractService, StudioRequestName> & {
  /** Record a successfully loaded model as the most recent one (failures to write are not the load's problem). */
  rememberModel(info: LoadedModelInfo): Promise<void>
}

/** A folder name for an imported model: the file's name without `.gguf`, in safe characters. */
export function importedFolderName(file: string): string {
  const stem = basename(file).replace(/\.gguf$/i, '')
  const safe = stem.replace(/[^\w.-]+/g, '-').replace(/^[.-]+/, '')
  return safe === '' ? 'imported-model' : safe
}

async function isEmptyOrMissing(folder: string): Promise<boolean> {
  try {
    return (await readdir(folder)).length === 0
  } catch {
    return true
  }
}

/** Create the studio requests over `context`. */
export function createStudioRequests(context: StudioContext): StudioRequests {
  const settingsPath = (): string => context.settingsPath ?? workspaceSettingsPath()
  const importedFolder = (): string => context.importedModelsFolder ?? join(workspaceRoot(), 'models')

  return {
    async rememberModel(info) {
      try {
        await updateSettings(
          (current) => ({
            recentModels: withRecentModel(current.recentModels, {
              path: info.path,
              name: info.name,
              architecture: info.architecture,
              loadedAt: Date.now(),
            }),
          }),
          settingsPath(),
        )
      } catch {
        // A read-only workspace loses the recent list, not the model.
      }
    },

    async 'settings:read'(args) {
      parseRequestArgs('settings:read', args)
      return readSettings(settingsPath())
    },

    async 'settings:update'(args) {
      const change = parseRequestArgs('settings:update', args)
      const applied: Partial<StudioSettings> = {}
      if (change.theme !== undefined) applied.theme = change.theme
      if (change.welcomeDismissed !== undefined) applied.welcomeDismissed = change.welcomeDismissed
      return updateSettings(() => applied, settingsPath())
    },

    async 'models:add-folder'(args) {
      const { path } = parseRequestArgs('models:add-folder', args)
      const folder = resolve(path)
      const scan = await scanModelFolder(folder)
      if (scan.problem !== null) throw new TillerError('file-not-found', scan.problem, { subject: folder })
      return updateSettings(
        (current) => ({ modelFolders: withModelFolder(current.modelFolders, folder) }),
        settingsPath(),
      )
    },

    async 'models:remove-folder'(args) {
      const { path } = parseRequestArgs('models:remove-folder', args)
      const folder = resolve(path)
      return updateSettings(
        (current) => ({ modelFolders: current.modelFolders.filter((entry) => entry !== folder) }),
        settingsPath(),
      )
    },

    async 'models:discover'(args): Promise<ModelDiscovery> {
      parseRequestArgs('models:discover', args)
      const settings = await readSettings(settingsPath())
      let organism: ModelDiscovery['organism'] = null
      let organismProblem: string | null = null
      try {
        organism = await describeModelFolder(context.defaultModelFolder(), 'organism', 'organism')
        if (organism === null) organismProblem = 'The embedded organism folder holds no ONNX model.'
      } catch (error) {
        organismProblem = error instanceof Error ? error.message : String(error)
      }
      const folders = [...settings.modelFolders]
      if (existsSync(importedFolder()) && !folders.includes(importedFolder()))
        folders.unshift(importedFolder())
      const cacheFolder = context.huggingFaceCache ?? huggingFaceCacheFolder()
      return {
        organism,
        organismProblem,
        recent: settings.recentModels,
        folders: await Promise.all(folders.map((folder) => scanModelFolder(folder))),
        huggingFace: {
          cacheFolder,
          exists: existsSync(cacheFolder),
          models: await discoverHuggingFaceModels(cacheFolder),
        },
      }
    },

    async 'model:details'(args) {
      parseRequestArgs('model:details', args)
      const model = context.currentModel()
      if (model === null) throw new TillerError('model-not-loaded', 'No model is loaded. Load a model first.')
      return modelFootprint(model.info.path, model.info.dtype)
    },

    async 'model:import-gguf'(args) {
      const request = parseRequestArgs('model:import-gguf', args)
      const file = resolve(request.file)
      if (!existsSync(file)) {
        throw new TillerError('file-not-found', `${file} does not exist; choose a .gguf model file.`, {
          subject: file,
        })
      }
      const out = resolve(request.out ?? join(importedFolder(), importedFolderName(file)))
      if (!(await isEmptyOrMissing(out))) {
        throw new TillerError(
          'invalid-argument',
          `${out} already exists and is not empty; choose another folder or remove it first.`,
          { subject: out },
        )
      }
      return context.jobs.start('import-gguf', basename(file), async ({ signal, progress }) => {
        progress(0.05, `Reading ${basename(file)}…`)
        const imported = await openGgufImport(file)
        try {
          if (signal.aborted) throw new TillerError('cancelled', `Importing ${basename(file)} was cancelled.`)
          progress(0.1, `Writing the ONNX model folder ${out}…`)
          await mkdir(resolve(out, '..'), { recursive: true })
          // The command line's default dtype keeps about the GGUF's size. The exporter reads and appends one weight
          // at a time, assembles the folder beside its target and renames it into place: no half-written model,
          // also when the job is cancelled between weights (the registry reports an aborted job as cancelled).
          await exportModelFolder(imported.checkpoint, imported.tokenizer, out, {
            family: 'builder',
            dtype: defaultExportDtype(imported.source.tensorTypes),
            signal,
            onProgress: (step) =>
              progress(
                0.1 + (0.9 * step.tensor) / step.tensors,
                `Writing tensor ${step.tensor}/${step.tensors} (${(step.writtenBytes / 1e6).toFixed(1)} MB)…`,
              ),
          })
        } finally {
          await imported.checkpoint.weights.close()
        }
        const { config } = imported.checkpoint
        return {
          folder: out,
          name: basename(out),
          sourceFile: file,
          layers: config.numLayers,
          hiddenSize: config.hiddenSize,
        }
      })
    },

    async 'files:list'(args) {
      const { path } = parseRequestArgs('files:list', args)
      return listFolder(path)
    },
  }
}
