/**
 * Where the embedded default model (the "organism") lives: `resources/models/organism` in a source checkout, or
 * `<resources>/models/organism` inside a packaged app.
 */
import { existsSync, statSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { TillerError } from '../errors.ts'

/** The default model's folder, relative to the resources root. */
export const defaultModelRelativePath = join('models', 'organism')

function candidateFolders(): string[] {
  const candidates: string[] = []
  // Electron sets process.resourcesPath in packaged apps; plain Node does not have it.
  const packaged = (process as NodeJS.Process & { resourcesPath?: string }).resourcesPath
  if (typeof packaged === 'string') candidates.push(join(packaged, defaultModelRelativePath))
  const repositoryRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', '..')
  candidates.push(join(repositoryRoot, 'resources', defaultModelRelativePath))
  return candidates
}

/** The embedded default model's folder; throws a TillerError naming the path when it is missing. */
export function defaultModelFolder(): string {
  const candidates = candidateFolders()
  const found = candidates.find((folder) => existsSync(folder) && statSync(folder).isDirectory())
  if (found !== undefined) return found
  throw new TillerError(
    'file-not-found',
    `The default model folder ${candidates.join(' or ')} is missing; pass --model DIR with a model folder, or ` +
      'restore resources/models/organism.',
    { subject: candidates[candidates.length - 1] },
  )
}
