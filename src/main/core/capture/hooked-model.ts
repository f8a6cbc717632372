import type { HookSite } from '../../../shared/edit.ts'
import { compileGraph } from '../edits/compiler/compile.ts'
import { loadModel, type LoadedModel } from '../runtime/model.ts'

/**
 * A session on the graph that exposes `site` at `layers` as outputs `hook.{site}.{layer}` (the compiler's hooked
 * graph, reused by name), on the same provider as `model`. The caller disposes it.
 */
export async function loadHookedModel(
  model: LoadedModel,
  site: HookSite,
  layers: readonly number[],
): Promise<LoadedModel> {
  const compiled = await compileGraph(
    model.folder,
    { edits: [], hooks: layers.map((layer) => ({ layer, site })) },
    { graphFile: model.baseGraphFile },
  )
  return loadModel(model.folder, {
    provider: model.providerChoice,
    graphFile: compiled.graphFile,
    baseGraphFile: model.baseGraphFile,
  })
}
