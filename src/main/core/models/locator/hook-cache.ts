/**
 * The hook-map cache, `hooks-<graph hash>.json` in the folder's cache folder. The file name keys it by the graph's
 * content, but the file itself is editable, so nothing read from it is trusted: a cached map is used only when the
 * structural locator finds exactly the same sites in the graph now (every named node and tensor exists, each layer
 * sits where that layer is, so two swapped layers or a renamed node are caught) and its widths agree with the
 * folder's config.json. Otherwise it is a miss, and the caller recomputes and rewrites it. Only the expensive part
 * (the validation dry run through ONNX Runtime) is saved; the structural pass is cheap.
 */
import { readFile } from 'node:fs/promises'
import { isDeepStrictEqual } from 'node:util'
import { hookSites } from '../../../../shared/edit.ts'
import { readModelConfig } from '../../runtime/model-config.ts'
import { writeFileAtomicCreatingFolder } from '../../workspace/atomic-write.ts'
import type { HookMap } from './hook-map.ts'
import type { locateSites } from './locate.ts'

/** What the graph says now: the structural locator's answer and the activation type. */
export interface GraphSites {
  located: ReturnType<typeof locateSites>
  activationType: HookMap['activationType']
}

function isPositiveInteger(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value > 0
}

/** Why `cached` does not describe the graph of `folder` (undefined when it does). */
export function cacheMismatch(
  cached: HookMap,
  graphHash: string,
  sites: GraphSites,
  folder: string,
): string | undefined {
  if (cached.version !== 2 || cached.graphHash !== graphHash) return 'it is for another graph or format'
  if (cached.family !== sites.located.family || cached.activationType !== sites.activationType) {
    return 'its graph family or activation type differs from the graph'
  }
  if (!isDeepStrictEqual(cached.layers, sites.located.layers)) {
    return 'its sites are not the ones the graph has (renamed, missing or reordered layers)'
  }
  const widths = cached.widths as Partial<Record<string, unknown>> | undefined
  if (widths === undefined || !hookSites.every((site) => isPositiveInteger(widths[site]))) {
    return 'its widths are incomplete'
  }
  const residual = cached.widths.resid_post
  if (['resid_pre', 'attn_out', 'mlp_out'].some((site) => widths[site] !== residual)) {
    return 'its residual widths disagree'
  }
  let config: ReturnType<typeof readModelConfig>
  try {
    config = readModelConfig(folder)
  } catch {
    return undefined
  }
  if (config.layers !== cached.layers.length)
    return `it has ${cached.layers.length} layers, config.json ${config.layers}`
  if (residual !== config.hiddenSize)
    return `its residual width ${residual} is not hidden_size ${config.hiddenSize}`
  if (cached.widths.attn_heads !== config.heads * config.headDim) {
    return `its attn_heads width ${cached.widths.attn_heads} is not heads × head_dim`
  }
  return undefined
}

/** The cached map at `path` when it passes `cacheMismatch`, else undefined (a miss). */
export async function readCachedHookMap(
  path: string,
  graphHash: string,
  folder: string,
  graphSites: () => GraphSites,
): Promise<HookMap | undefined> {
  let cached: HookMap
  try {
    cached = JSON.parse(await readFile(path, 'utf8')) as HookMap
  } catch {
    return undefined
  }
  if (typeof cached !== 'object' || cached === null) return undefined
  return cacheMismatch(cached, graphHash, graphSites(), folder) === undefined ? cached : undefined
}

/** Write the map; an unwritable cache only loses the map, which is recomputed next time. */
export async function writeCachedHookMap(path: string, map: HookMap): Promise<void> {
  try {
    await writeFileAtomicCreatingFolder(path, JSON.stringify(map, null, 1))
  } catch {
    // Nothing to do: the next call recomputes.
  }
}
