import { positionSelectors, type PositionSelector } from '../../../shared/activations.ts'
import { hookSites, type HookSite } from '../../../shared/edit.ts'
import { writeActivationSet } from '../../core/capture/activation-file.ts'
import { captureActivations } from '../../core/capture/capture.ts'
import { hashDemonstrations } from '../../core/data/hash.ts'
import { readDemonstrationFile } from '../../core/data/jsonl.ts'
import { contrastPairs } from '../../core/data/pairs.ts'
import { renderPairs } from '../../core/data/render.ts'
import { loadRenderTokenizer } from '../../core/data/tokenizer.ts'
import { loadModel } from '../../core/runtime/model.ts'
import { variantChoice, variantUsage } from './variant-flag.ts'
import type { Command } from '../index.ts'
import {
  demonstrationFlags,
  invalidFlag,
  modelFlags,
  modelFolderFlag,
  parseCommandArgs,
  parseLayerList,
  positiveIntegerFlag,
  providerFlag,
} from './arguments.ts'

const usage = `Usage: tiller capture [--model DIR] --data FILE.jsonl --site SITE --layers L[,L...] [options]

Run the demonstration pairs through the model and capture one hook site's activations at the chosen layers.

Options:
  --model DIR          model folder (default: the embedded model)
${variantUsage(23)}
  --data FILE          demonstration pairs (JSONL: {id, prompt, positive, negative})
  --site SITE          ${hookSites.join(' | ')}
  --selector SEL       ${positionSelectors.join(' | ')} (default completionMean)
  --layers LIST        comma-separated 0-based layers, e.g. 2,3
  --contrast WHERE     completion (assistant turn, default) | prompt (appended to the user turn)
  --batch-size N       pairs per forward pass (default 8)
  --out FILE           also write the activation set to FILE (.safetensors)
  --provider auto|cpu|cuda|dml
  --json               print { rows, width, layers, site, selector, dataHash, meanDifferenceNorms, out }`

function parse(args: string[]) {
  return parseCommandArgs('capture', {
    args,
    options: {
      ...modelFlags,
      ...demonstrationFlags,
      site: { type: 'string' },
      selector: { type: 'string', default: 'completionMean' },
      contrast: { type: 'string', default: 'completion' },
      out: { type: 'string' },
    },
  }).values
}

/** `tiller capture`: activations of a demonstration set at one site. */
export const captureCommand: Command = {
  usage,
  async run(args) {
    const values = parse(args)
    if (values.data === undefined) throw invalidFlag('data', undefined, 'give the demonstration file')
    if (!hookSites.includes(values.site as HookSite))
      throw invalidFlag('site', values.site, `use one of ${hookSites.join(', ')}`)
    if (!positionSelectors.includes(values.selector as PositionSelector)) {
      throw invalidFlag('selector', values.selector, `use one of ${positionSelectors.join(', ')}`)
    }
    if (values.contrast !== 'completion' && values.contrast !== 'prompt')
      throw invalidFlag('contrast', values.contrast, 'use completion or prompt')
    const batchSize = positiveIntegerFlag('batch-size', values['batch-size'])
    const provider = providerFlag(values.provider)
    const layers = parseLayerList(values.layers)
    const folder = modelFolderFlag(values.model)
    const set = await readDemonstrationFile(values.data)
    const tokenizer = await loadRenderTokenizer(folder)
    const rendered = renderPairs(contrastPairs(set), tokenizer, values.data, { contrast: values.contrast })
    const choice = variantChoice(folder, values.variant)
    if (choice.note !== undefined) process.stderr.write(`note: ${choice.note}\n`)
    const model = await loadModel(folder, { provider, variant: choice.variant })
    try {
      const activations = await captureActivations(model, rendered.examples, {
        site: values.site as HookSite,
        selector: values.selector as PositionSelector,
        layers,
        batchSize,
        dataHash: hashDemonstrations(set).hash,
      })
      if (values.out !== undefined) await writeActivationSet(values.out, activations)
      const meanDifferenceNorms = activations.layers.map((_, index) => {
        const positive = activations.positive[index] as Float32Array
        const negative = activations.negative[index] as Float32Array
        let sum = 0
        for (let column = 0; column < activations.width; column++) {
          let difference = 0
          for (let row = 0; row < activations.rows; row++) {
            const offset = row * activations.width + column
            difference += (positive[offset] ?? 0) - (negative[offset] ?? 0)
          }
          sum += (difference / activations.rows) ** 2
        }
        return Math.sqrt(sum)
      })
      const { rows, width, site, selector, dataHash } = activations
      if (values.json) {
        const summary = {
          rows,
          width,
          layers: activations.layers,
          site,
          selector,
          dataHash,
          meanDifferenceNorms,
          out: values.out,
        }
        process.stdout.write(JSON.stringify(summary) + '\n')
      } else {
        process.stdout.write(
          `captured ${rows} rows × ${width} at ${site} (${selector}) from ${rendered.examples.length} pairs\n`,
        )
        activations.layers.forEach((layer, index) =>
          process.stdout.write(
            `  layer ${layer}: ‖mean(h⁺) − mean(h⁻)‖ = ${meanDifferenceNorms[index]?.toPrecision(4)}\n`,
          ),
        )
        if (values.out !== undefined) process.stdout.write(`written to ${values.out}\n`)
      }
      return 0
    } finally {
      await model.dispose()
    }
  },
}
