/**
 * The steering studio's side of the contract: datasets, methods, fitting, the edits held this session, and
 * side-by-side comparison. Fits and comparisons are jobs; everything else answers at once. Every argument is
 * parsed with the contract's schema first, and everything that can be checked before a job starts (method,
 * options, layers, edit id, model match) is, so mistakes come back as the request's error.
 */
import { existsSync } from 'node:fs'
import { mkdir, stat } from 'node:fs/promises'
import { basename, dirname, resolve } from 'node:path'
import { parseRequestArgs, type ContractEvent, type ContractService } from '../../../shared/contract.ts'
import type { ModelFingerprint } from '../../../shared/edit.ts'
import type { SavedFile } from '../../../shared/steering.ts'
import { exportControlVector } from '../edits/control-vector.ts'
import { writeEditFile } from '../edits/edit-file.ts'
import { checkFingerprint } from '../edits/fingerprint.ts'
import { TillerError } from '../errors.ts'
import type { JobRegistry } from '../jobs/job-registry.ts'
import { methodById } from '../methods/index.ts'
import { parseOptions } from '../methods/method.ts'
import { listDatasets, previewDataset } from './dataset-catalog.ts'
import { storedControlVector, storedEditFile } from './edit-import.ts'
import { strengthOfMethod, type EditStore, type StoredEdit } from './edit-store.ts'
import type { EngineModel, EngineRuntime } from './engine-runtime.ts'
import type { FingerprintOf } from './fingerprint-cache.ts'
import { describeMethods } from './method-catalog.ts'

/** What the steering requests need from the engine that hosts them. */
export interface SteeringContext<Model extends EngineModel> {
  runtime: EngineRuntime<Model>
  jobs: JobRegistry
  emit(event: ContractEvent): void
  /** The loaded model, or null. */
  currentModel(): Model | null
  /** The loaded model when it is ready for work; otherwise a `model-not-loaded` error saying what to wait for. */
  readyModel(action: string): Model
  /** The bundled datasets folder, or null when the app has none. */
  bundledDatasets: string | null
  /** The edits held this session (shared with the chat and evaluation requests). */
  editStore: EditStore
  /** The model's fingerprint, hashed once per loaded model. */
  fingerprintOf: FingerprintOf<Model>
}

type SteeringRequestName =
  | 'datasets:list'
  | 'datasets:preview'
  | 'methods:list'
  | 'edit:fit'
  | 'edits:list'
  | 'edit:load'
  | 'edit:save'
  | 'edit:export-gguf'
  | 'chat:compare'

/** The steering requests of the contract. */
export type SteeringRequests = Pick<ContractService, SteeringRequestName>

/** Refuse an output path whose extension is not `extension`, naming what to write instead. */
function outputPath(path: string, extension: string, what: string): string {
  const absolute = resolve(path)
  if (!absolute.toLowerCase().endsWith(extension)) {
    throw new TillerError(
      'invalid-argument',
      `${absolute}: ${what} end in ${extension}; add the extension.`,
      {
        subject: 'path',
      },
    )
  }
  return absolute
}

async function savedFile(path: string): Promise<SavedFile> {
  return { path, bytes: (await stat(path)).size }
}

/** Create the steering requests over `context`. */
export function createSteeringRequests<Model extends EngineModel>(
  context: SteeringContext<Model>,
): SteeringRequests {
  const { runtime, jobs } = context
  const store = context.editStore
  const fingerprintOf = context.fingerprintOf
  const currentFingerprint = async (): Promise<ModelFingerprint | null> => {
    const model = context.currentModel()
    return model === null ? null : fingerprintOf(model)
  }
  const editOf = (id: string): StoredEdit => {
    try {
      return store.get(id)
    } catch (error) {
      if (error instanceof TillerError)
        throw new TillerError(error.code, error.message, { subject: 'editId' })
      throw error
    }
  }

  return {
    async 'datasets:list'(args) {
      const { path } = parseRequestArgs('datasets:list', args)
      const datasets = await listDatasets(context.bundledDatasets, path)
      return { datasets, bundledDirectory: context.bundledDatasets }
    },

    async 'datasets:preview'(args) {
      const { path, limit } = parseRequestArgs('datasets:preview', args)
      return previewDataset(path, limit, context.bundledDatasets)
    },

    async 'methods:list'(args) {
      parseRequestArgs('methods:list', args)
      const layerCount = context.currentModel()?.info.layers ?? null
      return { methods: describeMethods(layerCount), layerCount }
    },

    async 'edit:fit'(args) {
      const request = parseRequestArgs('edit:fit', args)
      const model = context.readyModel('fit an edit')
      const method = methodById(request.method)
      const options = parseOptions(method, request.options)
      // Resolving the capture now refuses layers the model does not have before any work starts.
      const capture = method.capture(options, model.info.layers)
      const dataset = resolve(request.dataset)
      if (!existsSync(dataset)) {
        throw new TillerError('file-not-found', `${dataset} does not exist; choose a demonstration file.`, {
          subject: 'dataset',
        })
      }
      const datasetName = basename(dataset).replace(/\.jsonl$/i, '')
      const label = `${method.id} on ${datasetName}, layer ${capture.layers.join(', ')}`
      return jobs.start('fit', label, async ({ signal, progress }) => {
        progress(0, 'Reading the model’s fingerprint…')
        const fitted = await runtime.fit(model, {
          dataset,
          method: method.id,
          options,
          fingerprint: await fingerprintOf(model),
          signal,
          onProgress: progress,
        })
        const strength = strengthOfMethod(fitted.edit)
        store.add({ ...fitted, origin: 'fitted', path: null, datasetName, strength })
        // Auto-saved into the workspace's library, so a restart finds it (and a chat stack that names it).
        await store.persist(fitted.edit.id)
        return { editId: fitted.edit.id, summary: fitted.summary }
      })
    },

    async 'edits:list'(args) {
      parseRequestArgs('edits:list', args)
      return store.list(await currentFingerprint())
    },

    async 'edit:load'(args) {
      const { path } = parseRequestArgs('edit:load', args)
      const model = context.readyModel('load an edit for it')
      const expected = await fingerprintOf(model)
      const absolute = resolve(path)
      const stored = absolute.toLowerCase().endsWith('.gguf')
        ? await storedControlVector(absolute, expected)
        : await storedEditFile(absolute, absolute, expected)
      store.add(stored)
      await store.persist(stored.edit.id)
      return store.summarize(stored, expected)
    },

    async 'edit:save'(args) {
      const { id, path } = parseRequestArgs('edit:save', args)
      const stored = store.get(id)
      const target = outputPath(path, '.safetensors', 'Tiller edit files')
      await mkdir(dirname(target), { recursive: true })
      await writeEditFile(target, stored.edit, stored.extras)
      store.savedAt(id, target)
      return savedFile(target)
    },

    async 'edit:export-gguf'(args) {
      const { id, path } = parseRequestArgs('edit:export-gguf', args)
      const stored = store.get(id)
      const target = outputPath(path, '.gguf', 'llama.cpp control vectors')
      await mkdir(dirname(target), { recursive: true })
      await exportControlVector(stored.edit, target, { modelHint: stored.edit.model.architecture })
      return savedFile(target)
    },

    async 'chat:compare'(args) {
      const request = parseRequestArgs('chat:compare', args)
      if (request.prompt.trim() === '') {
        throw new TillerError('empty-prompt', 'The prompt is empty. Type a prompt to compare on.', {
          subject: 'prompt',
        })
      }
      const model = context.readyModel('compare')
      const stored = editOf(request.editId)
      checkFingerprint(
        await fingerprintOf(model),
        stored.edit.model,
        stored.path ?? `The edit ${stored.edit.id}`,
      )
      // One comparison at a time: a new one replaces the running one, or a running chat reply (they would share
      // one steered session).
      const previous = [...jobs.list('compare'), ...jobs.list('chat')].map((job) => job.id)
      for (const id of previous) jobs.cancel(id)
      const label = `${request.strengths.join(', ')} × ${stored.edit.method}`
      return jobs.start('compare', label, async ({ id, signal, progress }) => {
        await Promise.all(previous.map((job) => jobs.settled(job)))
        progress(null, 'Preparing the steered model…')
        let generating = false
        const result = await runtime.compare(model, {
          edit: stored.edit,
          prompt: request.prompt,
          chat: request.chat,
          strengths: request.strengths,
          options: request.options,
          signal,
          onToken: (row, token, text) => {
            if (!generating) progress(null, 'Generating…')
            generating = true
            context.emit({ name: 'compare:token', payload: { job: id, row, token, text } })
          },
        })
        return { editId: stored.edit.id, ...result }
      })
    },
  }
}
