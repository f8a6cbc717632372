import { createHash } from 'node:crypto'
import { existsSync } from 'node:fs'
import { dirname, isAbsolute, relative, sep } from 'node:path'
import { hookSites, type Edit, type PositionPolicy } from '../../../../shared/edit.ts'
import { TillerError } from '../../errors.ts'
import { cacheFolder, cacheFolderVariable, derivedGraphFolder } from '../../workspace/cache-folders.ts'
import { exposeSites, siteLocation } from '../../models/locator/expose.ts'
import { graphFileOf } from '../../models/locator/graph-file.ts'
import { GraphEditor } from '../../models/locator/graph-editor.ts'
import { writeDerivedGraph } from '../../models/locator/graph-placement.ts'
import { canonicalSite, type HookMap, type SiteAddress } from '../../models/locator/hook-map.ts'
import { locateHookSites, resolveGraphPath } from '../../models/locator/index.ts'
import { loadModel as loadGraph } from '../../onnx/external-data.ts'
import { removeDeadNodes } from '../../onnx/rewire.ts'
import { checkEdits } from './check-edits.ts'
import { lowerSite, type PlacedIntervention } from './lower-site.ts'
import { maskInputName, RuntimeInputs, runtimeInputNames, type PatchInput } from './runtime-inputs.ts'

/**
 * The edit compiler (DESIGN.md §4): lowers edits into a copy of a model folder's graph, saved as
 * `steered-<hash>.onnx` (or `hooked-<hash>.onnx` when it only exposes hooks) and reused by that name, a hash of
 * (graph hash, spec). It is written next to the original external data when Tiller may write into the model
 * folder, else into the cache with the weights hard-linked (or copied) beside it (models/locator/graph-placement.ts).
 * The source graph and its weights are never modified.
 */

/** What to compile: edits to lower (in order; they compose) and sites to expose as hook outputs (after edits). */
export interface CompileSpec {
  edits: readonly Edit[]
  hooks?: readonly SiteAddress[]
  /** Also expose each edited site's pre-edit value as `hook.{site}.{layer}.input` (for checks and diagnostics). */
  exposeEditInputs?: boolean
  /** Give each edit its own strength factor (`tiller_edit_strength [batch, edits]`), for stacked edits. */
  strengthPerEdit?: boolean
  /**
   * Make the hooks the graph's only outputs and drop every node they do not depend on: the layers after the
   * deepest hook, the output head and the cache outputs. Capture runs such graphs (load them with `hooksOnly`).
   */
  hooksOnly?: boolean
}

/** A compiled graph and what the runtime must feed it. */
export interface CompiledGraph {
  /**
   * What to pass to `loadModel(folder, { graphFile })`: relative to the model folder when the graph was written
   * inside it (e.g. `onnx/steered-0123abcd.onnx`), else absolute (a graph in the cache).
   */
  graphFile: string
  graphPath: string
  hookMap: HookMap
  /** `policies[k]` is the position policy whose mask feeds input `maskInputs[k]`. */
  policies: PositionPolicy[]
  maskInputs: string[]
  /** Whether the graph reads `tiller_token_index` (edits with `addAt`). */
  usesTokenIndex: boolean
  /** Whether the graph reads `tiller_strength` (it has edits). */
  usesStrength: boolean
  /** Whether the graph reads `tiller_edit_strength [batch, editCount]` (compiled with `strengthPerEdit`). */
  usesEditStrength: boolean
  /** Edits compiled in, in order: the columns of `tiller_edit_strength`. */
  editCount: number
  /**
   * The clean-value inputs of `patch` ops (SADI's patch mode), each with the hook a strength-0 pass reads it from;
   * empty for every other edit.
   */
  patchInputs: PatchInput[]
  hookOutputs: string[]
}

const siteOrder = new Map(hookSites.map((site, position) => [site, position]))

/**
 * The version of the nodes the lowerings write, part of every compiled graph's file name: compiled graphs are
 * reused from disk by name, so a change to any lowering must bump it or older graphs would keep running.
 */
const loweringVersion = 5

function specHash(graphHash: string, spec: CompileSpec): string {
  const hash = createHash('sha256').update(`${graphHash}\nlowering ${loweringVersion}\n`)
  hash.update(
    JSON.stringify(spec, (_key, value: unknown) =>
      value instanceof Float32Array
        ? Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('base64')
        : value,
    ),
  )
  return hash.digest('hex').slice(0, 16)
}

/** Interventions grouped by physical site, in topological (layer, site) order. */
function placeInterventions(
  edits: readonly Edit[],
): Array<{ address: SiteAddress; placed: PlacedIntervention[] }> {
  const groups = new Map<string, { address: SiteAddress; placed: PlacedIntervention[] }>()
  edits.forEach((edit, editPosition) =>
    edit.interventions.forEach((intervention, position) => {
      const address = canonicalSite(intervention)
      const key = `${address.layer}:${address.site}`
      const group = groups.get(key) ?? { address, placed: [] }
      group.placed.push({
        intervention,
        editPosition,
        label: `edits/layers.${address.layer}/${address.site}/${editPosition}.${position}`,
      })
      groups.set(key, group)
    }),
  )
  return [...groups.values()].sort(
    (first, second) =>
      first.address.layer - second.address.layer ||
      (siteOrder.get(first.address.site) ?? 0) - (siteOrder.get(second.address.site) ?? 0),
  )
}

/** Make `outputs` the graph's only outputs and remove what they do not read (graph inputs stay declared). */
function keepOnlyOutputs(editor: GraphEditor, outputs: readonly string[]): void {
  if (outputs.length === 0)
    throw new TillerError('internal', 'A hooks-only graph needs at least one hook to expose.')
  const kept = new Set(outputs)
  const graph = editor.model.graph
  graph.output = graph.output.filter((output) => kept.has(output.name))
  removeDeadNodes(graph)
  const produced = new Set(graph.node.flatMap((node) => node.output))
  graph.valueInfo = graph.valueInfo.filter((info) => produced.has(info.name))
}

/**
 * Graphs this process compiled, by folder, where derived graphs go, and file name (a hash of the graph and the
 * spec). A compiled graph is reused by that name anyway; remembering it also skips parsing and editing the source
 * graph again (6–12 ms for the organism, on every capture), as long as the file is still there.
 */
const compiledGraphs = new Map<string, CompiledGraph>()

/**
 * Compile `spec` for the graph of `folder` (`options.graphFile` relative to it; default the folder's decoder
 * graph). Returns the compiled graph's file and its runtime inputs.
 */
export async function compileGraph(
  folder: string,
  spec: CompileSpec,
  options: { graphFile?: string } = {},
): Promise<CompiledGraph> {
  const graphPath = resolveGraphPath(folder, options.graphFile)
  const hookMap = await locateHookSites(folder, options)
  checkEdits(spec.edits, hookMap)
  const prefix = spec.edits.length > 0 ? 'steered' : 'hooked'
  const fileName = `${prefix}-${specHash(hookMap.graphHash, spec)}.onnx`
  const memoKey = [folder, derivedGraphFolder(folder, dirname(graphPath)), fileName].join('\0')
  const remembered = compiledGraphs.get(memoKey)
  if (remembered !== undefined && existsSync(remembered.graphPath)) return structuredClone(remembered)
  const { model } = await loadGraph(graphPath)
  const editor = new GraphEditor(model)
  const runtime = new RuntimeInputs(editor, spec.strengthPerEdit === true ? spec.edits.length : undefined)
  const edited = new Map<string, string>()
  const inputs: SiteAddress[] = []
  for (const { address, placed } of placeInterventions(spec.edits)) {
    const location = siteLocation(hookMap.layers, address)
    const width = hookMap.widths[address.site]
    const chain = lowerSite(
      editor,
      runtime,
      location,
      width,
      hookMap.activationType,
      placed,
      spec.exposeEditInputs === true,
    )
    edited.set(`${address.layer}:${address.site}`, chain.after)
    // A patched site's pre-edit value is where a strength-0 pass reads the clean value the patch needs.
    const patches = placed.some((entry) => entry.intervention.op.kind === 'patch')
    if (chain.before !== undefined && (spec.exposeEditInputs === true || patches)) {
      exposeSites(editor, hookMap.layers, [address], { current: () => chain.before, suffix: '.input' })
      inputs.push(address)
    }
  }
  const hookOutputs = exposeSites(editor, hookMap.layers, spec.hooks ?? [], {
    current: (address) => {
      const canonical = canonicalSite(address)
      return edited.get(`${canonical.layer}:${canonical.site}`)
    },
  })
  hookOutputs.push(...inputs.map((address) => `hook.${address.site}.${address.layer}.input`))
  if (spec.hooksOnly === true) keepOnlyOutputs(editor, hookOutputs)
  let outputPath: string
  try {
    outputPath = await writeDerivedGraph(folder, graphPath, fileName, editor.finish(), { reuse: true })
  } catch (error) {
    if (error instanceof TillerError) throw error
    throw new TillerError(
      'invalid-model-folder',
      `Cannot write the compiled graph ${fileName} for ${graphPath} (${(error as Error).message}). Check that ` +
        `Tiller's cache folder (${cacheFolder()}, set by ${cacheFolderVariable}) is writable and has space.`,
      { subject: graphPath, cause: error },
    )
  }
  const inside = relative(folder, outputPath)
  const inFolder = !isAbsolute(inside) && inside.split(sep)[0] !== '..'
  const compiled: CompiledGraph = {
    graphFile: inFolder ? graphFileOf(folder, outputPath) : outputPath,
    graphPath: outputPath,
    hookMap,
    policies: runtime.policies,
    maskInputs: runtime.policies.map((_, index) => maskInputName(index)),
    usesTokenIndex: runtime.usesTokenIndex,
    usesStrength: runtime.policies.length > 0,
    usesEditStrength: runtime.usesEditStrength,
    editCount: spec.edits.length,
    patchInputs: runtime.patchInputs,
    hookOutputs,
  }
  compiledGraphs.set(memoKey, structuredClone(compiled))
  return compiled
}

/** Compile edits into a steered graph (beside the folder's weights or in the cache): `compileEdits(folder, edits)`. */
export async function compileEdits(
  folder: string,
  edits: readonly Edit[],
  options: { graphFile?: string; strengthPerEdit?: boolean } = {},
): Promise<CompiledGraph> {
  if (edits.length === 0) throw new TillerError('invalid-argument', 'No edits to compile.')
  const spec: CompileSpec = options.strengthPerEdit === true ? { edits, strengthPerEdit: true } : { edits }
  return compileGraph(folder, spec, { graphFile: options.graphFile })
}

export { runtimeInputNames }
