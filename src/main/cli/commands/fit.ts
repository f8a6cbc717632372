import type { RenderOptions } from '../../core/data/render.ts'
import { writeEditFile } from '../../core/edits/edit-file.ts'
import { fitFromDemonstrations } from '../../core/fitting/fit-pipeline.ts'
import { implementedMethodIds, methodById } from '../../core/methods/index.ts'
import { parseOptions } from '../../core/methods/method.ts'
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

const usage = `Usage: tiller fit --method METHOD [--model DIR] --data FILE.jsonl [--layers L[,L...]] --out EDIT.safetensors

Fit an activation edit on demonstration pairs: render them through the model's chat template, capture the
method's hook site, fit, and write an edit file stamped with the model's fingerprint. Rows whose split is
"validation" or "test" are left out of the fit.

Methods: ${implementedMethodIds.join(' | ')}

Options:
  --model DIR          model folder (default: the embedded model)
${variantUsage(23)}
  --data FILE          demonstrations (JSONL pairs {id, prompt, positive, negative} or labelled rows)
  --layers LIST        comma-separated 0-based blocks (default: the method's paper layer scaled to the depth)
  --out FILE           the edit file to write (.safetensors)
  --coefficient C      actadd: c baked into the steering tensor (default 5)
  --selector SEL       mean-diff: completionMean (default) | lastPrompt
  --option NAME=VALUE  any method option (repeatable), e.g. --option scale=unit; VALUE is read as JSON when it
                       parses (numbers, true/false, [1,2]), else as text
  --system TEXT        system prompt for the chat template
  --plain-format TEXT  prompt format for models without a chat template (default "{prompt}")
  --batch-size N       pairs per forward pass (default 8)
  --provider auto|cpu|cuda|dml
  --json               print { out, method, layers, interventions, pairs, dataset, notes }`

function parse(args: string[]) {
  return parseCommandArgs('fit', {
    args,
    options: {
      ...modelFlags,
      ...demonstrationFlags,
      method: { type: 'string' },
      out: { type: 'string' },
      coefficient: { type: 'string' },
      selector: { type: 'string' },
      option: { type: 'string', multiple: true },
      system: { type: 'string' },
      'plain-format': { type: 'string' },
    },
  }).values
}

/** `--option NAME=VALUE` → { NAME: VALUE }, VALUE as JSON when it parses, else as text. */
export function parseOptionAssignment(assignment: string): Record<string, unknown> {
  const separator = assignment.indexOf('=')
  const name = assignment.slice(0, separator).trim()
  if (separator < 1 || name === '') {
    throw invalidFlag('option', assignment, 'write it as NAME=VALUE, e.g. --option scale=unit')
  }
  const text = assignment.slice(separator + 1).trim()
  try {
    return { [name]: JSON.parse(text) as unknown }
  } catch {
    return { [name]: text }
  }
}

/** `tiller fit`: demonstrations → render → capture → method.fit → edit file. */
export const fitCommand: Command = {
  usage,
  async run(args) {
    const values = parse(args)
    if (values.method === undefined)
      throw invalidFlag('method', undefined, `use one of ${implementedMethodIds.join(', ')}`)
    if (values.data === undefined) throw invalidFlag('data', undefined, 'give the demonstration file')
    if (values.out === undefined) throw invalidFlag('out', undefined, 'give the edit file to write')
    const method = methodById(values.method)
    const batchSize = positiveIntegerFlag('batch-size', values['batch-size'])
    const provider = providerFlag(values.provider)
    const input: Record<string, unknown> = {}
    if (values.layers !== undefined) input.layers = parseLayerList(values.layers)
    if (values.coefficient !== undefined) input.coefficient = Number(values.coefficient)
    if (values.selector !== undefined) input.selector = values.selector
    for (const assignment of values.option ?? []) Object.assign(input, parseOptionAssignment(assignment))
    const options = parseOptions(method, input)
    const render: Partial<Pick<RenderOptions, 'systemPrompt' | 'plain'>> = { systemPrompt: values.system }
    if (values['plain-format'] !== undefined)
      render.plain = { prompt: values['plain-format'], completionPrefix: ' ' }

    const folder = modelFolderFlag(values.model)
    const choice = variantChoice(folder, values.variant)
    if (choice.note !== undefined) process.stderr.write(`note: ${choice.note}\n`)
    const { edit, summary, extras } = await fitFromDemonstrations({
      model: { folder, provider, variant: choice.variant },
      data: values.data,
      method,
      options,
      render,
      batchSize,
    })
    await writeEditFile(values.out, edit, extras)
    if (values.json) {
      const printed = {
        out: values.out,
        method: summary.method,
        layers: summary.layers,
        interventions: summary.interventions,
        pairs: summary.pairs,
        dataset: extras.dataset,
        notes: summary.notes,
      }
      process.stdout.write(JSON.stringify(printed) + '\n')
    } else {
      process.stdout.write(
        `${summary.method}: ${summary.interventions} intervention(s) from ${summary.pairs} pairs at ` +
          `${summary.site} (${summary.selector}), layers ${summary.layers.join(', ')}\n`,
      )
      for (const note of summary.notes) process.stdout.write(`  ${note}\n`)
      process.stdout.write(`written to ${values.out}\n`)
    }
    return 0
  },
}
