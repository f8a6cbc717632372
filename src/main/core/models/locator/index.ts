import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { TillerError } from '../../errors.ts'
import { loadModel as loadGraph } from '../../onnx/external-data.ts'
import { elementTypeName, type ModelProto } from '../../onnx/proto.ts'
import { writeFileAtomicCreatingFolder } from '../../workspace/atomic-write.ts'
import { modelCacheFolder } from '../../workspace/cache-folders.ts'
import { hashFile } from '../../workspace/file-hash.ts'
import { resolveGraphPath } from './graph-file.ts'
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
 * or Tiller's cache folder for read-only folders and the app's resources (workspace/cache-folders.ts). A cache
 * that cannot be written is skipped; the map is recomputed next time.
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

function cachePath(folder: string, graphHash: string): string {
  return join(modelCacheFolder(folder), `hooks-${graphHash.slice(0, 16)}.json`)
}

async function readCached(path: string, graphHash: string): Promise<HookMap | undefined> {
  try {
    const cached = JSON.parse(await readFile(path, 'utf8')) as HookMap
    return cached.version === 2 && cached.graphHash === graphHash ? cached : undefined
  } catch {
    return undefined
  }
}

async function writeCached(path: string, map: HookMap): Promise<void> {
  try {
    await writeFileAtomicCreatingFolder(path, JSON.stringify(map, null, 1))
  } catch {
    // An unwritable cache only loses the map; it is recomputed next time.
  }
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
  if (options.cache !== false) {
    const cached = await readCached(path, graphHash)
    if (cached !== undefined) return cached
  }
  const { model } = await loadGraph(graphPath)
  const { family, layers } = locateSites(model)
  const activationType = activationTypeOf(model)
  // validateSites edits the model it is given, so hand it its own copy.
  const widths = await validateSites(
    (await loadGraph(graphPath)).model,
    folder,
    graphPath,
    layers,
    activationType,
  )
  const map: HookMap = { version: 2, graphHash, family, activationType, layers, widths }
  if (options.cache !== false) await writeCached(path, map)
  return map
}
