/**
 * The edits the engine holds this session: fitted ones and files the user loaded, by id. Vectors stay here; the
 * renderer sees `EditSummary` values and refers to edits by id.
 */
import { homedir } from 'node:os'
import { join } from 'node:path'
import type { Edit, ModelFingerprint } from '../../../shared/edit.ts'
import type { EditSummary, StrengthInfo } from '../../../shared/steering.ts'
import type { EditFileExtras } from '../edits/edit-file.ts'
import { fingerprintDifference } from '../edits/fingerprint.ts'
import { TillerError } from '../errors.ts'
import { methods, type AnyMethod } from '../methods/index.ts'
import type { EditLibrary } from './edit-library.ts'

/** One held edit and what Tiller knows about it besides the edit itself. */
export interface StoredEdit {
  edit: Edit
  /** What an edit file records about the fit (template, dataset); carried into saved files. */
  extras: EditFileExtras
  origin: 'fitted' | 'file'
  /** The file it came from or was last saved to. */
  path: string | null
  /** The demonstration file's name, when fitted here. */
  datasetName: string | null
  /** The name the user gave it in the library; null until renamed. */
  name?: string | null
  strength: StrengthInfo
}

/** Where Save proposes to write edits when no file is known yet. */
export const defaultEditsDirectory = join(homedir(), 'Tiller', 'edits')

/** The method's strength semantics, or a generic one for methods this build cannot fit. */
export function strengthOfMethod(edit: Edit): StrengthInfo {
  const method = (methods as Partial<Record<string, AnyMethod>>)[edit.method]
  if (method === undefined)
    return { description: 'α scales the edit; 0 is the base model', default: 1, testedRange: [0, 1] }
  return { ...method.strength, testedRange: [...method.strength.testedRange] }
}

function fileStem(text: string): string {
  return text.replace(/[^\w.-]+/g, '-').replace(/^-+|-+$/g, '') || 'edit'
}

/** Held edits, oldest first; with a library, every edit it held before (in any earlier engine) too. */
export class EditStore {
  private readonly edits = new Map<string, StoredEdit>()
  private readonly directory: string

  /**
   * @param directory where `suggestedPath` points for edits that have no file yet
   * @param library the workspace's edit library: read now, and written by `persist`
   */
  constructor(
    directory: string = defaultEditsDirectory,
    readonly library: EditLibrary | null = null,
  ) {
    this.directory = directory
    for (const stored of library?.readAll() ?? []) this.edits.set(stored.edit.id, stored)
  }

  /** Write the held edit `id` into the library (a no-op without one); returns the library file, or null. */
  async persist(id: string): Promise<string | null> {
    return this.library === null ? null : this.library.write(this.get(id))
  }

  /** Forget `id` and remove it from the library; false when it was not held. */
  async remove(id: string): Promise<boolean> {
    const held = this.edits.delete(id)
    const removed = (await this.library?.remove(id)) ?? false
    return held || removed
  }

  /** Every held edit, oldest first. */
  all(): StoredEdit[] {
    return [...this.edits.values()]
  }

  /** Hold `stored` (replacing an edit with the same id, e.g. the same file loaded twice). */
  add(stored: StoredEdit): void {
    this.edits.delete(stored.edit.id)
    this.edits.set(stored.edit.id, stored)
  }

  /** The edit with `id`; refuses an unknown id naming it. */
  get(id: string): StoredEdit {
    const stored = this.edits.get(id)
    if (stored === undefined) {
      throw new TillerError(
        'invalid-argument',
        `No edit with id "${id}" is held in this session; fit one or load an edit file.`,
        { subject: 'id' },
      )
    }
    return stored
  }

  /** Remember that the edit was written to `path`. */
  savedAt(id: string, path: string): void {
    const stored = this.get(id)
    stored.path = path
  }

  /** Plain summaries; `model` is the loaded model's fingerprint (null when none is loaded). */
  list(model: ModelFingerprint | null): EditSummary[] {
    return [...this.edits.values()].map((stored) => this.summarize(stored, model))
  }

  /** One edit's summary. */
  summarize(stored: StoredEdit, model: ModelFingerprint | null): EditSummary {
    const { edit } = stored
    const layers = [...new Set(edit.interventions.map((intervention) => intervention.layer))].sort(
      (first, second) => first - second,
    )
    const sites = [...new Set(edit.interventions.map((intervention) => intervention.site))]
    const where = layers.length === 1 ? `layer ${layers[0]}` : `${layers.length} layers`
    const label = [edit.method, stored.datasetName, where].filter((part) => part !== null).join(' · ')
    const stem = fileStem(`${edit.method}-${stored.datasetName ?? 'edit'}-${edit.id.slice(0, 8)}`)
    return {
      id: edit.id,
      method: edit.method,
      label,
      origin: stored.origin,
      path: stored.path,
      created: edit.created,
      layers,
      sites,
      interventions: edit.interventions.length,
      notes: edit.notes,
      dataset: stored.extras.dataset ?? null,
      strength: stored.strength,
      matchesModel: model === null ? null : fingerprintDifference(model, edit.model) === undefined,
      suggestedPath: stored.path ?? join(this.directory, `${stem}.safetensors`),
    }
  }
}
