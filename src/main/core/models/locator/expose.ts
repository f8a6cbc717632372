import { hookSites, type HookSite } from '../../../../shared/edit.ts'
import { TillerError } from '../../errors.ts'
import { tensorValueInfo } from '../../onnx/builder.ts'
import { TensorElementType } from '../../onnx/proto.ts'
import type { GraphEditor } from './graph-editor.ts'
import { hookOutputName, type LayerSites, type SiteAddress, type SiteLocation } from './hook-map.ts'

/**
 * Capture is an edit too (STYLE.md principle 7): a hook exposes a site as a graph output. Every hook output is
 * float32 `[batch, seq, width]` (a Cast in the graph, so float16 graphs hand JS plain floats) and is named
 * `hook.{site}.{layer}`.
 */

/** The tensor that holds a site's value in the graph being edited. */
export function siteTensor(editor: GraphEditor, location: SiteLocation): string {
  return location.kind === 'tensor' ? location.tensor : editor.fusedSum(location.node)
}

/** The location of one site, or a TillerError naming the layer when the graph has fewer layers. */
export function siteLocation(layers: readonly LayerSites[], address: SiteAddress): SiteLocation {
  const sites = layers[address.layer]
  if (sites === undefined || !Number.isInteger(address.layer)) {
    throw new TillerError(
      'invalid-argument',
      `Layer ${address.layer} does not exist: the model has layers 0–${layers.length - 1}.`,
      { subject: `layer ${address.layer}` },
    )
  }
  return sites[address.site]
}

/** Every site of every layer, in layer order. */
export function allSites(layerCount: number, sites: readonly HookSite[] = hookSites): SiteAddress[] {
  const addresses: SiteAddress[] = []
  for (let layer = 0; layer < layerCount; layer++) for (const site of sites) addresses.push({ layer, site })
  return addresses
}

/**
 * Add hook outputs for `addresses`. `current` may name the tensor that now carries a site (after an edit
 * replaced it); by default the located tensor is exposed. `suffix` distinguishes extra views (e.g. `.input`).
 */
export function exposeSites(
  editor: GraphEditor,
  layers: readonly LayerSites[],
  addresses: readonly SiteAddress[],
  options: { current?: (address: SiteAddress) => string | undefined; suffix?: string } = {},
): string[] {
  const names: string[] = []
  for (const address of addresses) {
    const tensor = options.current?.(address) ?? siteTensor(editor, siteLocation(layers, address))
    const name = hookOutputName(address.site, address.layer) + (options.suffix ?? '')
    if (editor.model.graph.output.some((output) => output.name === name)) continue
    editor.node('Cast', [tensor], {
      name: `hooks/${name}`,
      attributes: { to: TensorElementType.float32 },
      outputs: [name],
    })
    editor.model.graph.output.push(
      tensorValueInfo(name, 'float32', ['batch_size', 'sequence_length', `${address.site}_width`]),
    )
    names.push(name)
  }
  return names
}
