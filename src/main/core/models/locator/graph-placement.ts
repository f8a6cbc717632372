/**
 * Where graphs derived from a model folder's graph (compiled steered/hooked graphs, the locator's validation
 * probe) are written, and how their weights stay reachable.
 *
 * A derived graph references the original weights by relative external-data location, and ONNX Runtime resolves
 * those only inside the graph's own directory (symlinks are followed, then refused). So:
 *   - in a folder Tiller may write into (cache-folders.ts), the graph goes beside the original, as before;
 *   - otherwise (read-only folders, the app's resources, or whenever TILLER_CACHE_DIR is set) it goes to
 *     `<cache>/graphs/<model key>/…`, and each weights file it references is made available there by a hard link
 *     (same file system: no copy, no space) or, when linking fails (another file system, or a file this user may
 *     not link), by a copy if it is at most `weightsCopyLimitBytes`; larger weights are refused with advice.
 * Loading a session from bytes with in-memory external data was not chosen: Node buffers stop at 4 GiB and ONNX
 * Runtime may copy them again, where a link costs nothing and a copy is made once per model.
 */
import { existsSync } from 'node:fs'
import { mkdir } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { externalDataInfo, resolveLocation, saveModel } from '../../onnx/external-data.ts'
import type { ModelProto } from '../../onnx/proto.ts'
import { isExternal } from '../../onnx/tensor.ts'
import { cacheFolderVariable, derivedGraphFolder } from '../../workspace/cache-folders.ts'
import { mirrorFile } from '../../workspace/mirror-file.ts'

/** The largest weights file copied into the cache when it cannot be hard-linked there (2 GiB). */
export const weightsCopyLimitBytes = 2 * 2 ** 30

/** Options of {@link writeDerivedGraph}. */
export interface DerivedGraphOptions {
  /** Keep an existing file of that name instead of writing it again (for names that encode the content). */
  reuse?: boolean
}

const permissionCodes = new Set(['EACCES', 'EPERM', 'EROFS'])

function isPermissionError(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException | undefined)?.code
  return code !== undefined && permissionCodes.has(code)
}

/** The distinct external-data locations `model`'s initializers reference. */
function externalLocations(model: ModelProto): string[] {
  const locations = new Set<string>()
  for (const tensor of model.graph.initializer) {
    if (isExternal(tensor)) locations.add(externalDataInfo(tensor).location)
  }
  return [...locations]
}

/** Make every weights file `model` references from `sourceDirectory` available in `targetDirectory`. */
async function makeWeightsReachable(
  model: ModelProto,
  sourceDirectory: string,
  targetDirectory: string,
): Promise<void> {
  for (const location of externalLocations(model)) {
    await mirrorFile(resolveLocation(sourceDirectory, location), resolveLocation(targetDirectory, location), {
      copyLimitBytes: weightsCopyLimitBytes,
      advice:
        `Set ${cacheFolderVariable} to a folder on the same file system as the model, or copy the model folder ` +
        'to a writable place.',
    })
  }
}

/**
 * Write `model`, derived from the graph at `sourcePath` of model folder `folder`, as `fileName` beside the
 * original or in the cache, with its weights reachable. A write refused inside the folder (permissions the
 * checks could not see) is retried in the cache. Returns the path written.
 */
export async function writeDerivedGraph(
  folder: string,
  sourcePath: string,
  fileName: string,
  model: ModelProto,
  options: DerivedGraphOptions = {},
): Promise<string> {
  const sourceDirectory = dirname(sourcePath)
  const place = async (forceCache: boolean): Promise<string> => {
    const directory = derivedGraphFolder(folder, sourceDirectory, forceCache)
    if (directory !== sourceDirectory) {
      await mkdir(directory, { recursive: true })
      await makeWeightsReachable(model, sourceDirectory, directory)
    }
    const path = join(directory, fileName)
    if (options.reuse !== true || !existsSync(path)) await saveModel(model, path)
    return path
  }
  try {
    return await place(false)
  } catch (error) {
    const triedFolder = derivedGraphFolder(folder, sourceDirectory) === sourceDirectory
    if (!triedFolder || !isPermissionError(error)) throw error
    return place(true)
  }
}
