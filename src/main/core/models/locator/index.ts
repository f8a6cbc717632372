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
  const graphHash = await hashFile(graphPath)
  const path = cachePath(folder, graphHash)
  const { model } = await loadGraph(graphPath)
  let sites: GraphSites | undefined
  const graphSites = (): GraphSites => {
    sites ??= { located: locateIn(graphPath, model), activationType: activationTypeOf(model) }
    return sites
  }
  if (options.cache !== false) {
    const cached = await readCachedHookMap(path, graphHash, folder, graphSites)
    if (cached !== undefined) return cached
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
  return map
}
