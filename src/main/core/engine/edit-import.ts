/**
 * Edits read from files into the shape the engine's store holds them in: a llama.cpp control vector or a Tiller
 * edit file (on its own, or the one a steered folder carries). The library's import and `edit:load` share these.
 */
import type { ModelFingerprint } from '../../../shared/edit.ts'
import { importControlVector } from '../edits/control-vector.ts'
import { readEditFile } from '../edits/edit-file.ts'
import { extrasOfManifest, strengthOfManifest } from './edit-extras.ts'
import { strengthOfMethod, type StoredEdit } from './edit-store.ts'

/** A control vector (.gguf) for `model`: no extras, the method's strength semantics. */
export async function storedControlVector(path: string, model: ModelFingerprint): Promise<StoredEdit> {
  const edit = await importControlVector(path, { model })
  return { edit, extras: {}, origin: 'file', path, datasetName: null, strength: strengthOfMethod(edit) }
}

/**
 * A Tiller edit file with its manifest's extras and strength, checked against `expected` when given. `path` is
 * where the edit was imported from: the file itself, or the steered folder that carries it.
 */
export async function storedEditFile(
  file: string,
  path: string,
  expected?: ModelFingerprint,
): Promise<StoredEdit> {
  const { edit, manifest } = await readEditFile(file, expected)
  return {
    edit,
    extras: extrasOfManifest(manifest),
    origin: 'file',
    path,
    datasetName: null,
    strength: strengthOfManifest(manifest),
  }
}
