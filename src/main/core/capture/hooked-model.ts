import type { Edit, HookSite } from '../../../shared/edit.ts'
import { compileGraph, type CompiledGraph } from '../edits/compiler/compile.ts'
import { loadModel, type LoadedModel } from '../runtime/model.ts'

/**
 * A session on the graph whose only outputs are `site` at `layers`, as `hook.{site}.{layer}` (the compiler's
 * hooks-only graph, reused by name: nothing after the deepest hook runs), on the same provider as `model`. With
 * `edits`, they are compiled in as well and the hooks read the edited activations; the caller feeds their strength
 * and masks. It runs `forwardBatch`, not generation. The caller disposes it.
 */
export async function loadHookedModel(
  model: LoadedModel,
  site: HookSite,
  layers: readonly number[],
  edits: readonly Edit[] = [],
): Promise<LoadedModel & { compiled: CompiledGraph }> {
  const compiled = await compileGraph(
    model.folder,
    { edits, hooks: layers.map((layer) => ({ layer, site })), hooksOnly: true },
    { graphFile: model.baseGraphFile },
  )
  const loaded = await loadModel(model.folder, {
    provider: model.providerChoice,
    graphFile: compiled.graphFile,
    baseGraphFile: model.baseGraphFile,
    tokenizer: model.tokenizer,
    hooksOnly: true,
  })
  return Object.assign(loaded, { compiled })
}
