/**
 * The Hugging Face hub cache's ONNX-capable models. The cache keeps each repository as
 * `models--<owner>--<name>/snapshots/<revision>/` whose files are symbolic links into `blobs/`; a snapshot counts
 * when it holds `config.json` and an `.onnx` graph (at its root or under `onnx/`). The cache folder is
 * `HF_HUB_CACHE`, else `HF_HOME/hub`, else `~/.cache/huggingface/hub`, as the hub libraries resolve it.
 */
import { readdir, stat } from 'node:fs/promises'
import { homedir } from 'node:os'
import { join, resolve } from 'node:path'
import type { DiscoveredModel } from '../../../../shared/studio.ts'
import { describeModelFolder } from './model-folder.ts'

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === '' ? undefined : value
}

/** The hub cache folder for this environment, whether or not it exists. */
export function huggingFaceCacheFolder(environment: NodeJS.ProcessEnv = process.env): string {
  const hubCache = nonEmpty(environment['HF_HUB_CACHE'])
  if (hubCache !== undefined) return resolve(hubCache)
  const home = nonEmpty(environment['HF_HOME'])
  if (home !== undefined) return resolve(home, 'hub')
  return join(homedir(), '.cache', 'huggingface', 'hub')
}

async function folderNames(folder: string): Promise<string[]> {
  try {
    const entries = await readdir(folder, { withFileTypes: true })
    return entries
      .filter((entry) => entry.isDirectory() || entry.isSymbolicLink())
      .map((entry) => entry.name)
      .sort()
  } catch {
    return []
  }
}

async function modifiedAt(path: string): Promise<number> {
  try {
    return (await stat(path)).mtimeMs
  } catch {
    return 0
  }
}

/**
 * Every ONNX-capable snapshot in `cacheFolder`, one entry per repository: the most recently modified snapshot
 * that qualifies (older revisions of the same repository add nothing to choose from).
 */
export async function discoverHuggingFaceModels(cacheFolder: string): Promise<DiscoveredModel[]> {
  const found: DiscoveredModel[] = []
  for (const repositoryFolder of await folderNames(cacheFolder)) {
    if (!repositoryFolder.startsWith('models--')) continue
    const repository = repositoryFolder.slice('models--'.length).split('--').join('/')
    const snapshots = join(cacheFolder, repositoryFolder, 'snapshots')
    const revisions = await folderNames(snapshots)
    const dated = await Promise.all(
      revisions.map(async (revision) => ({ revision, time: await modifiedAt(join(snapshots, revision)) })),
    )
    dated.sort((first, second) => second.time - first.time)
    for (const { revision } of dated) {
      const model = await describeModelFolder(join(snapshots, revision), 'hugging-face', repository)
      if (model === null) continue
      found.push({ ...model, repository, revision })
      break
    }
  }
  return found
}
