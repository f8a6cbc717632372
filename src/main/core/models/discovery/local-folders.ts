/**
 * Models in a folder the user added: the folder itself when it is a model folder, else each of its subfolders
 * that is one (a "models" folder). A folder that is gone or unreadable is reported with the reason, not dropped.
 */
import { readdir, stat } from 'node:fs/promises'
import { join } from 'node:path'
import type { DiscoveredModel } from '../../../../shared/studio.ts'
import { describeModelFolder } from './model-folder.ts'

/** The models found in one added folder, or why none could be looked for. */
export interface FolderScan {
  folder: string
  models: DiscoveredModel[]
  problem: string | null
}

/** Scan one added folder. */
export async function scanModelFolder(folder: string): Promise<FolderScan> {
  try {
    if (!(await stat(folder)).isDirectory()) {
      return {
        folder,
        models: [],
        problem: `${folder} is a file, not a folder; remove it and add its folder.`,
      }
    }
  } catch {
    return {
      folder,
      models: [],
      problem: `${folder} is missing; it was moved or deleted. Remove it or add it again.`,
    }
  }
  const itself = await describeModelFolder(folder, 'folder')
  if (itself !== null) return { folder, models: [itself], problem: null }
  let names: string[]
  try {
    names = (await readdir(folder, { withFileTypes: true }))
      .filter((entry) => entry.isDirectory() || entry.isSymbolicLink())
      .map((entry) => entry.name)
      .sort()
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error)
    return { folder, models: [], problem: `${folder} could not be read (${reason}).` }
  }
  const models: DiscoveredModel[] = []
  for (const name of names) {
    const model = await describeModelFolder(join(folder, name), 'folder')
    if (model !== null) models.push(model)
  }
  return { folder, models, problem: null }
}
