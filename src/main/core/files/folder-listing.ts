/**
 * Browser mode's file picker, served by the engine: the folders and files of one folder, folders first, each
 * model folder marked. A browser page cannot see the disk, so the engine lists it; nothing is hidden silently —
 * entries that cannot be read are listed apart with the reason. Listing only reads names and sizes.
 */
import { readdir, stat } from 'node:fs/promises'
import { homedir } from 'node:os'
import { dirname, join, parse, resolve } from 'node:path'
import type { FolderEntry, FolderListing } from '../../../shared/studio.ts'
import { TillerError } from '../errors.ts'
import { onnxGraphs } from '../models/discovery/model-folder.ts'
import { workspaceRoot } from '../workspace/workspace-root.ts'

/** More entries than a person can scan are cut, and the cut is reported as an unreadable line. */
const entryLimit = 5000

async function isModelFolder(folder: string): Promise<boolean> {
  try {
    return (await readdir(folder)).includes('config.json') && (await onnxGraphs(folder)).length > 0
  } catch {
    return false
  }
}

/** The places a picker offers to start from. */
export function pickerPlaces(): FolderListing['places'] {
  const home = homedir()
  return [
    { label: 'Home', path: home },
    { label: 'Workspace', path: workspaceRoot() },
    { label: 'File system', path: parse(home).root },
  ]
}

function reasonOf(error: unknown): string {
  const code = (error as NodeJS.ErrnoException).code
  if (code === 'EACCES' || code === 'EPERM') return 'permission denied'
  if (code === 'ENOENT') return 'a broken link'
  return error instanceof Error ? error.message : String(error)
}

/** List `path` (default: the home folder). */
export async function listFolder(path: string | undefined): Promise<FolderListing> {
  const folder = resolve(homedir(), path ?? homedir())
  let names: string[]
  try {
    const info = await stat(folder)
    if (!info.isDirectory()) {
      throw new TillerError('invalid-argument', `${folder} is a file; choose the folder that holds it.`, {
        subject: folder,
      })
    }
    names = await readdir(folder)
  } catch (error) {
    if (error instanceof TillerError) throw error
    const code = (error as NodeJS.ErrnoException).code
    if (code === 'ENOENT') {
      throw new TillerError('file-not-found', `${folder} does not exist; choose another folder.`, {
        subject: folder,
      })
    }
    throw new TillerError('invalid-argument', `${folder} cannot be read (${reasonOf(error)}).`, {
      subject: folder,
    })
  }
  const entries: FolderEntry[] = []
  const unreadable: FolderListing['unreadable'] = []
  for (const name of names.slice(0, entryLimit)) {
    const entryPath = join(folder, name)
    try {
      const info = await stat(entryPath)
      const isFolder = info.isDirectory()
      entries.push({
        name,
        path: entryPath,
        kind: isFolder ? 'folder' : 'file',
        isModel: isFolder && (await isModelFolder(entryPath)),
        sizeBytes: isFolder ? null : info.size,
      })
    } catch (error) {
      unreadable.push({ name, reason: reasonOf(error) })
    }
  }
  if (names.length > entryLimit) {
    unreadable.push({
      name: `${names.length - entryLimit} more entries`,
      reason: `only the first ${entryLimit} are listed; type the path instead`,
    })
  }
  entries.sort((first, second) =>
    first.kind === second.kind ? first.name.localeCompare(second.name) : first.kind === 'folder' ? -1 : 1,
  )
  const parent = dirname(folder)
  return {
    path: folder,
    parent: parent === folder ? null : parent,
    entries,
    unreadable,
    places: pickerPlaces(),
  }
}
