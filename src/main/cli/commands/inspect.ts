import { hookSites } from '../../../shared/edit.ts'
import { locateHookSites, resolveGraphPath } from '../../core/models/locator/index.ts'
import { variantChoice, variantUsage } from './variant-flag.ts'
import { describeVariants, megabytes } from '../../core/models/variants.ts'
import { describeQuantizedLinears, quantizedLinears } from '../../core/models/quantized-linears.ts'
import type { Command } from '../index.ts'
import { modelFolderFlag, parseCommandArgs } from './arguments.ts'

const usage = `Usage: tiller inspect [--model DIR] [--json]

Locate the hook sites of every decoder block (resid_pre, attn_heads, attn_out, mlp_gate, mlp_act, mlp_out,
resid_post) by graph structure, validate them with a short dry run, and print them with their shapes.

Options:
  --model DIR   model folder (default: the embedded model)
  --graph FILE  graph file inside the folder (default: its decoder graph)
${variantUsage(16)}
  --json        print { model, graph, family, activationType, widths, layers: [{ layer, sites }], variants,
                defaultVariant, quantizedLinears } (variants: the folder's graphs with their data files and sizes;
                quantizedLinears: MatMulNBits nodes by bits and by compute, int8 or float)`

function parse(args: string[]) {
  return parseCommandArgs('inspect', {
    args,
    options: {
      model: { type: 'string' },
      graph: { type: 'string' },
      variant: { type: 'string' },
      json: { type: 'boolean', default: false },
    },
  }).values
}

/** `tiller inspect`: the located hook sites per layer with their shapes. */
export const inspectCommand: Command = {
  usage,
  async run(args) {
    const values = parse(args)
    const folder = modelFolderFlag(values.model)
    const graphFile = values.graph ?? variantChoice(folder, values.variant).graphFile
    const graphPath = resolveGraphPath(folder, graphFile)
    const map = await locateHookSites(folder, { graphFile })
    const layers = map.layers.map((sites, layer) => ({
      layer,
      sites: Object.fromEntries(
        hookSites.map((site) => {
          const location = sites[site]
          const where =
            location.kind === 'tensor' ? { tensor: location.tensor } : { fusedNode: location.node }
          return [site, { shape: ['batch', 'sequence', map.widths[site]], ...where }]
        }),
      ),
    }))
    const { variants, chosen } = describeVariants(folder)
    const linears = await quantizedLinears(graphPath)
    if (values.json) {
      const { family, activationType, widths } = map
      const defaultVariant = chosen ?? null
      process.stdout.write(
        JSON.stringify({
          model: folder,
          graph: graphPath,
          family,
          activationType,
          widths,
          layers,
          variants,
          defaultVariant,
          quantizedLinears: linears,
        }) + '\n',
      )
      return 0
    }
    const lines = [
      `${graphPath}: ${map.family} family, ${map.activationType} activations, ${map.layers.length} layers`,
    ]
    if (variants.length > 0) {
      const listed = variants.map(
        (variant) =>
          `${variant.name} ${variant.graphFile} ${megabytes(variant.sizeBytes)}` +
          (variant.name === chosen?.name ? ' (default)' : ''),
      )
      lines.push(`variants: ${listed.join(', ')}`)
    }
    if (linears.count > 0) lines.push(describeQuantizedLinears(linears))
    for (const entry of layers) {
      lines.push(`layer ${entry.layer}`)
      for (const site of hookSites) {
        const location = map.layers[entry.layer]?.[site]
        const where =
          location?.kind === 'tensor' ? location.tensor : `${location?.node ?? ''} (residual sum, output 3)`
        lines.push(`  ${site.padEnd(11)} [batch, sequence, ${map.widths[site]}]  ${where}`)
      }
    }
    process.stdout.write(lines.join('\n') + '\n')
    return 0
  },
}
