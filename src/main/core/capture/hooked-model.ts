import type { Edit, HookSite } from '../../../shared/edit.ts'
import { compileGraph, type CompiledGraph } from '../edits/compiler/compile.ts'
import { loadModel, type LoadedModel } from '../runtime/model.ts'

/**
 * A session on the graph that exposes `site` at `layers` as outputs `hook.{site}.{layer}` (the compiler's hooked
 * graph, reused by name), on the same provider as `model`. With `edits`, they are compiled in as well and the
 * hooks read the edited activations; the caller feeds their strength and masks. The caller disposes it.
 */
export async function loadHookedModel(
  model: LoadedModel,
  site: HookSite,
  layers: readonly number[],
  edits: readonly Edit[] = [],
): Promise<LoadedModel & { compiled: CompiledGraph }> {
  const compiled = await compileGraph(
    model.folder,
    { edits, hooks: layers.map((layer) => ({ layer, site })) },
    { graphFile: model.baseGraphFile },
  )
  const loaded = await loadModel(model.folder, {
    provider: model.providerChoice,
    graphFile: compiled.graphFile,
    baseGraphFile: model.baseGraphFile,
  })
  return Object.assign(loaded, { compiled })
}
