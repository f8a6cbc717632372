import { statSync } from 'node:fs'
import { join } from 'node:path'
import { isTillerError, TillerError } from '../../errors.ts'
import { loadModel as loadGraph } from '../../onnx/external-data.ts'
import { elementTypeName, type ModelProto } from '../../onnx/proto.ts'
import { modelCacheFolder } from '../../workspace/cache-folders.ts'
import { hashFile } from '../../workspace/file-hash.ts'
import { resolveGraphPath } from './graph-file.ts'
import { readCachedHookMap, writeCachedHookMap, type GraphSites } from './hook-cache.ts'
import type { HookMap } from './hook-map.ts'
import { locateSites } from './locate.ts'
import { validateSites } from './validate.ts'

export {
  hookOutputName,
  canonicalSite,
  type HookMap,
  type LayerSites,
  type SiteAddress,
  type SiteLocation,
} from './hook-map.ts'
export { resolveGraphPath } from './graph-file.ts'

/**
 * The hook-site locator's entry point: locate (by structure), validate (a dry run) and cache the sites of a model
 * folder's graph. The cache lives in `hooks-<graph hash>.json` of the folder's cache folder: `<folder>/.tiller`,
 * or Tiller's cache folder for read-only folders and the app's resources (workspace/cache-folders.ts). A cached map
 * is checked against the graph before use (hook-cache.ts); one that fails is recomputed and rewritten.
 */

/** Element type of the graph's activations: that of its KV cache, else of its logits. */
export function activationTypeOf(model: ModelProto): 'float32' | 'float16' {
  const info =
    model.graph.input.find((input) => input.name.startsWith('past_key_values.')) ??
    model.graph.output.find((output) => output.name === 'logits')
  const code = info?.type?.tensorType?.elemType ?? 1
  const name = elementTypeName(code)
  if (name !== 'float32' && name !== 'float16') {
    throw new TillerError(
      'unsupported-tensor-type',
      `Activations of type ${name} are not supported (float32 or float16).`,
    )
  }
  return name
}

/** `locateSites`, its refusal naming the graph file (a folder may hold several variants). */
function locateIn(graphPath: string, model: ModelProto): ReturnType<typeof locateSites> {
  try {
    return locateSites(model)
  } catch (error) {
    if (!isTillerError(error, 'unsupported-architecture')) throw error
    throw new TillerError('unsupported-architecture', `${graphPath}: ${error.message}`, {
      subject: error.subject,
      cause: error,
    })
  }
}

/** Identity of a file's current contents as the file system records it; undefined when it does not exist. */
function fileSignature(path: string): string | undefined {
  try {
    const stat = statSync(path, { bigint: true })
    return `${stat.dev}:${stat.ino}:${stat.size}:${stat.mtimeNs}:${stat.ctimeNs}`
  } catch {
    return undefined
  }
}

/**
 * Maps this process located or read, by folder, graph file and cache folder, with the signatures of the graph and its
 * cache file then. Every capture and compile asks again; while neither file changed, the answer is the same, without
 * hashing and parsing the graph (3–5 ms for a small model, more for a large graph).
 */
const locatedMaps = new Map<
  string,
  { graph: string; cachePath: string; cacheFile: string | undefined; map: HookMap }
>()

function cachePath(folder: string, graphHash: string): string {
  return join(modelCacheFolder(folder), `hooks-${graphHash.slice(0, 16)}.json`)
}

/**
 * The validated hook map of a model folder's graph (`graphFile` relative to the folder; default the folder's
 * decoder graph). Cached per graph file hash.
 */
export async function locateHookSites(
  folder: string,
  options: { graphFile?: string; cache?: boolean } = {},
): Promise<HookMap> {
  const graphPath = resolveGraphPath(folder, options.graphFile)
  // The cache folder is part of the key: where the map is cached can change (TILLER_CACHE, a read-only folder).
  const memoKey = [folder, graphPath, modelCacheFolder(folder)].join('\0')
  const memo = options.cache === false ? undefined : locatedMaps.get(memoKey)
  const graphSignature = fileSignature(graphPath)
  if (memo !== undefined && memo.graph === graphSignature && memo.cacheFile === fileSignature(memo.cachePath))
    return structuredClone(memo.map)
  const graphHash = await hashFile(graphPath)
  const path = cachePath(folder, graphHash)
  const remember = (map: HookMap): HookMap => {
    if (graphSignature !== undefined && options.cache !== false)
      locatedMaps.set(memoKey, {
        graph: graphSignature,
        cachePath: path,
        cacheFile: fileSignature(path),
        map: structuredClone(map),
      })
    return map
  }
  const { model } = await loadGraph(graphPath)
  let sites: GraphSites | undefined
  const graphSites = (): GraphSites => {
    sites ??= { located: locateIn(graphPath, model), activationType: activationTypeOf(model) }
    return sites
  }
  if (options.cache !== false) {
    const cached = await readCachedHookMap(path, graphHash, folder, graphSites)
    if (cached !== undefined) return remember(cached)
  }
  const {
    located: { family, layers },
    activationType,
  } = graphSites()
  // validateSites edits the model it is given, so hand it its own copy.
  const widths = await validateSites(
    (await loadGraph(graphPath)).model,
    folder,
    graphPath,
    layers,
    activationType,
  )
  const map: HookMap = { version: 2, graphHash, family, activationType, layers, widths }
  if (options.cache !== false) await writeCachedHookMap(path, map)
  return remember(map)
}
