import type { Edit, HookSite } from '../../../shared/edit.ts'
import { compileGraph, type CompiledGraph } from '../edits/compiler/compile.ts'
import { loadModel, type LoadedModel } from '../runtime/model.ts'
import { isSmallGraph } from '../runtime/session.ts'

export type HookedModel = LoadedModel & { compiled: CompiledGraph }

/**
 * Hooks-only sessions kept open per small model. Opening one and its first run cost about 20 ms, a tenth of
 * capturing stories260K's benchmark rows; for a model of at most 32 MB a kept session costs at most that much
 * memory, while a larger model's would hold a second copy of its weights (docs/performance.md).
 */
const keptPerModel = 2

/** Per kept session: the captures using it now, and whether it was evicted and waits for them to end. */
const usage = new WeakMap<LoadedModel, { users: number; evicted: boolean }>()

/** `kept` for one capture: its dispose ends the use, and releases the session only once evicted and unused. */
function borrow(kept: LoadedModel, compiled: CompiledGraph): HookedModel {
  const state = usage.get(kept) ?? { users: 0, evicted: false }
  usage.set(kept, state)
  state.users++
  let ended = false
  return {
    ...kept,
    compiled,
    dispose: async () => {
      if (ended) return
      ended = true
      state.users--
      if (state.evicted && state.users === 0) await kept.dispose()
    },
  }
}

/** Keep `hooked` beside `model`, evicting the least recently used beyond `keptPerModel`. */
async function keep(model: LoadedModel, graphPath: string, hooked: LoadedModel): Promise<void> {
  model.companions.set(graphPath, hooked)
  for (const [path, companion] of model.companions) {
    if (model.companions.size <= keptPerModel) break
    model.companions.delete(path)
    const state = usage.get(companion)
    if (state === undefined || state.users === 0) await companion.dispose()
    else state.evicted = true
  }
}

/**
 * A session on the graph whose only outputs are `site` at `layers`, as `hook.{site}.{layer}` (the compiler's
 * hooks-only graph, reused by name: nothing after the deepest hook runs), on the same provider as `model`. With
 * `edits`, they are compiled in as well and the hooks read the edited activations; the caller feeds their strength
 * and masks. It runs `forwardBatch`, not generation. The caller disposes it; for a small model the session stays
 * open beside `model` for the next capture of the same graph, and is released with `model`.
 */
export async function loadHookedModel(
  model: LoadedModel,
  site: HookSite,
  layers: readonly number[],
  edits: readonly Edit[] = [],
): Promise<HookedModel> {
  const compiled = await compileGraph(
    model.folder,
    { edits, hooks: layers.map((layer) => ({ layer, site })), hooksOnly: true },
    { graphFile: model.baseGraphFile },
  )
  const kept = model.companions.get(compiled.graphPath)
  if (kept !== undefined) {
    // Most recently used last: eviction takes the first.
    model.companions.delete(compiled.graphPath)
    model.companions.set(compiled.graphPath, kept)
    return borrow(kept, compiled)
  }
  const loaded = await loadModel(model.folder, {
    provider: model.providerChoice,
    graphFile: compiled.graphFile,
    baseGraphFile: model.baseGraphFile,
    tokenizer: model.tokenizer,
    hooksOnly: true,
  })
  if (!isSmallGraph(compiled.graphPath)) return Object.assign(loaded, { compiled })
  const hooked = borrow(loaded, compiled)
  await keep(model, compiled.graphPath, loaded)
  return hooked
}
