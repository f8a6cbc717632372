/**
 * The workspace's edit library: every fitted or imported edit as `edits/<id>.safetensors` (the Tiller edit file,
 * with its manifest: method, layers, dataset hash, evaluation when recorded) beside `edits/<id>.json`, the studio's
 * own record of it (name, dataset name, origin). Both are written atomically; the engine reads the folder when it
 * starts, so edits survive a reload or a restart of the engine.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { mkdir, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { z } from 'zod'
import { decodeEditFile, writeEditFile } from '../edits/edit-file.ts'
import { writeFileAtomic } from '../workspace/atomic-write.ts'
import { extrasOfManifest, strengthOfManifest } from './edit-extras.ts'
import type { StoredEdit } from './edit-store.ts'

/** The studio's record beside an edit file. */
const recordSchema = z.object({
  version: z.literal(1),
  name: z.string().nullable(),
  datasetName: z.string().nullable(),
  origin: z.enum(['fitted', 'file']),
})

/** A library file that could not be read, and why (listed, never fatal). */
export interface UnreadableEdit {
  path: string
  reason: string
}

/** File names carry the edit id; anything outside `[\w.-]` becomes `-` so an id never escapes the folder. */
function stemOf(id: string): string {
  return id.replace(/[^\w.-]/g, '-')
}

export class EditLibrary {
  readonly unreadable: UnreadableEdit[] = []

  constructor(readonly folder: string) {}

  /** The edit file of `id` in the library. */
  fileOf(id: string): string {
    return join(this.folder, `${stemOf(id)}.safetensors`)
  }

  private recordOf(id: string): string {
    return join(this.folder, `${stemOf(id)}.json`)
  }

  /** Every readable edit of the folder, oldest first; unreadable files are noted in `unreadable`. */
  readAll(): StoredEdit[] {
    this.unreadable.length = 0
    if (!existsSync(this.folder)) return []
    const edits: StoredEdit[] = []
    for (const name of readdirSync(this.folder).sort()) {
      if (!name.endsWith('.safetensors')) continue
      const path = join(this.folder, name)
      try {
        const { edit, manifest } = decodeEditFile(readFileSync(path), path)
        const recordPath = join(this.folder, name.replace(/\.safetensors$/, '.json'))
        const record = existsSync(recordPath)
          ? recordSchema.parse(JSON.parse(readFileSync(recordPath, 'utf8')))
          : { name: null, datasetName: null, origin: 'file' as const }
        edits.push({
          edit,
          extras: extrasOfManifest(manifest),
          origin: record.origin,
          path,
          datasetName: record.datasetName,
          name: record.name,
          strength: strengthOfManifest(manifest),
        })
      } catch (error) {
        this.unreadable.push({ path, reason: error instanceof Error ? error.message : String(error) })
      }
    }
    return edits.sort((first, second) => first.edit.created.localeCompare(second.edit.created))
  }

  /** Write (or rewrite) `stored` into the library; returns its edit file's path. */
  async write(stored: StoredEdit): Promise<string> {
    await mkdir(this.folder, { recursive: true })
    const path = this.fileOf(stored.edit.id)
    await writeEditFile(path, stored.edit, stored.extras)
    const record = {
      version: 1,
      name: stored.name ?? null,
      datasetName: stored.datasetName,
      origin: stored.origin,
    }
    await writeFileAtomic(this.recordOf(stored.edit.id), JSON.stringify(record, null, 2) + '\n')
    return path
  }

  /** Remove `id`'s files; false when it had none. */
  async remove(id: string): Promise<boolean> {
    const path = this.fileOf(id)
    const existed = existsSync(path)
    await rm(path, { force: true })
    await rm(this.recordOf(id), { force: true })
    return existed
  }
}
