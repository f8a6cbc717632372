/**
 * The Edits library's side of the contract: the edits of the workspace's `edits` folder with their manifests,
 * rename and notes, delete, compose, import of an edit file (Tiller or llama.cpp control vector), and export as a
 * steered ONNX folder (a job). Saving as a Tiller file and as a control vector are `edit:save` and
 * `edit:export-gguf`; `controlVectorProblem` tells the screen in advance when the latter would refuse.
 */
import { existsSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { parseRequestArgs, type ContractService } from '../../../shared/contract.ts'
import type { ModelFingerprint } from '../../../shared/edit.ts'
import type { LibraryEdit } from '../../../shared/edit-library.ts'
import { controlVectorProblem } from '../edits/control-vector.ts'
import { decodeEditFile, encodeEditFile, writeEditFile } from '../edits/edit-file.ts'
import { checkFingerprint } from '../edits/fingerprint.ts'
import { exportSteeredModel } from '../edits/steered-export.ts'
import { TillerError } from '../errors.ts'
import type { JobRegistry } from '../jobs/job-registry.ts'
import { composeEdits } from './edit-composition.ts'
import { storedControlVector, storedEditFile } from './edit-import.ts'
import type { EditStore, StoredEdit } from './edit-store.ts'
import type { EngineModel } from './engine-runtime.ts'

/** What the library requests need from the engine. */
export interface LibraryContext<Model extends EngineModel> {
  jobs: JobRegistry
  currentModel(): Model | null
  readyModel(action: string): Model
  editStore: EditStore
  fingerprintOf(model: Model): Promise<ModelFingerprint>
}

/** The edit file a steered folder exported from the library carries. */
export const steeredEditFile = 'tiller-edit.safetensors'

type LibraryRequestName =
  | 'library:list'
  | 'library:update'
  | 'library:delete'
  | 'library:compose'
  | 'library:import'
  | 'library:export-onnx'

export type LibraryRequests = Pick<ContractService, LibraryRequestName>

/** Create the library requests. */
export function createLibraryRequests<Model extends EngineModel>(
  context: LibraryContext<Model>,
): LibraryRequests {
  const store = context.editStore
  const currentFingerprint = async (): Promise<ModelFingerprint | null> => {
    const model = context.currentModel()
    return model === null ? null : context.fingerprintOf(model)
  }
  const nameOf = (stored: StoredEdit, label: string): string => stored.name ?? label
  const entryOf = (stored: StoredEdit, model: ModelFingerprint | null): LibraryEdit => {
    const summary = store.summarize(stored, model)
    return {
      ...summary,
      name: nameOf(stored, summary.label),
      datasetName: stored.datasetName,
      controlVectorProblem: controlVectorProblem(stored.edit),
      evaluated: stored.extras.evaluation !== undefined,
      options: stored.edit.options,
    }
  }
  const describe = async (id: string): Promise<LibraryEdit> =>
    entryOf(store.get(id), await currentFingerprint())

  return {
    async 'library:list'(args) {
      parseRequestArgs('library:list', args)
      const model = await currentFingerprint()
      return store
        .all()
        .map((stored) => entryOf(stored, model))
        .reverse()
    },

    async 'library:update'(args) {
      const { id, name, notes } = parseRequestArgs('library:update', args)
      const stored = store.get(id)
      if (name !== undefined) stored.name = name
      if (notes !== undefined) stored.edit = { ...stored.edit, notes }
      await store.persist(id)
      return describe(id)
    },

    async 'library:delete'(args) {
      const { id } = parseRequestArgs('library:delete', args)
      return { deleted: await store.remove(id) }
    },

    async 'library:compose'(args) {
      const request = parseRequestArgs('library:compose', args)
      const model = await currentFingerprint()
      const parts = request.parts.map((part) => {
        const stored = store.get(part.id)
        return { edit: stored.edit, name: entryOf(stored, model).name, strength: part.strength }
      })
      const edit = composeEdits(parts)
      store.add({
        edit,
        extras: { strengthRange: [0, 1] },
        origin: 'fitted',
        path: null,
        datasetName: null,
        name: request.name,
        strength: {
          description: 'α scales every part together (each already at the strength it was composed with)',
          default: 1,
          testedRange: [0, 1],
        },
      })
      await store.persist(edit.id)
      return describe(edit.id)
    },

    async 'library:import'(args) {
      const { path } = parseRequestArgs('library:import', args)
      const absolute = resolve(path)
      let stored: StoredEdit
      if (absolute.toLowerCase().endsWith('.gguf')) {
        // A control vector records no model of its own unless Tiller wrote it; the loaded model stands in.
        const model = context.readyModel('import a control vector for it')
        stored = await storedControlVector(absolute, await context.fingerprintOf(model))
      } else if (
        absolute.toLowerCase().endsWith('.safetensors') ||
        existsSync(join(absolute, steeredEditFile))
      ) {
        // A steered ONNX folder exported here carries its edit file beside the graph.
        const file = absolute.toLowerCase().endsWith('.safetensors')
          ? absolute
          : join(absolute, steeredEditFile)
        stored = await storedEditFile(file, absolute)
      } else {
        throw new TillerError(
          'invalid-argument',
          `${absolute}: import a Tiller edit file (.safetensors), a llama.cpp control vector (.gguf) or a steered ` +
            'model folder exported by Tiller.',
          { subject: 'path' },
        )
      }
      store.add(stored)
      await store.persist(stored.edit.id)
      return describe(stored.edit.id)
    },

    async 'library:export-onnx'(args) {
      const request = parseRequestArgs('library:export-onnx', args)
      const model = context.readyModel('export a steered model')
      const stored = store.get(request.id)
      checkFingerprint(await context.fingerprintOf(model), stored.edit.model, nameOf(stored, stored.edit.id))
      const out = resolve(request.path)
      // The exporter reads the edit as a file does: encode it with its manifest and read that back.
      const bytes = Buffer.concat(encodeEditFile(stored.edit, stored.extras))
      const editFile = decodeEditFile(bytes, nameOf(stored, stored.edit.id))
      return context.jobs.start('export-onnx', `steered model → ${out}`, async ({ progress }) => {
        progress(null, 'Compiling the edit into the model’s graph…')
        const written = await exportSteeredModel(model.info.path, editFile, out, {
          strength: request.strength,
          force: request.replace,
        })
        // The edit itself beside the graph, so the folder can be imported back into a library.
        await writeEditFile(join(written.out, steeredEditFile), stored.edit, stored.extras)
        return { path: written.out, strength: written.strength }
      })
    },
  }
}
