import { loadSteeredModel, compareStrengths, readEditsFor } from '../../core/edits/steered-generation.ts'
import { renderPrompt } from '../../core/runtime/prompt.ts'
import { variantChoice, variantUsage } from './variant-flag.ts'
import type { Command } from '../index.ts'
import {
  modelFlags,
  modelFolderFlag,
  invalidFlag,
  parseCommandArgs,
  promptFlag,
  providerFlag,
} from './arguments.ts'
import { generationFlags, generationFlagsUsage, generationOptions } from './generation-flags.ts'

const defaultMaxTokens = 64

const usage = `Usage: tiller compare [--model DIR] --edit FILE --prompt TEXT --strengths 0,1,2 [options]

Generate the same prompt at several edit strengths, as rows of one batch with the same seed: strength 0 is the
unedited model, exactly.

Options:
  --model DIR                 model folder (default: the embedded model)
${variantUsage(30)}
  --edit FILE                 edit file (.safetensors); repeat to compose several edits
  --prompt TEXT               the prompt
  --strengths LIST            comma-separated strengths, e.g. -2,0,2 (default 0,1)
  --chat                      wrap the prompt as a user turn with the model's chat template
${generationFlagsUsage(defaultMaxTokens)}
  --provider auto|cpu|cuda|dml
  --json                      print a JSON array with one { strength, text, tokens } row per strength`

/** `--strengths -2,0,2` would read "-2,0,2" as a flag; join a value that starts with a dash to its option. */
function joinNegativeValues(args: string[]): string[] {
  const joined: string[] = []
  for (let index = 0; index < args.length; index++) {
    const value = args[index + 1]
    if (
      (args[index] === '--strengths' || args[index] === '--temperature') &&
      value !== undefined &&
      /^-\d/.test(value)
    ) {
      joined.push(`${args[index]}=${value}`)
      index++
    } else joined.push(args[index] ?? '')
  }
  return joined
}

function parse(args: string[]) {
  return parseCommandArgs('compare', {
    args: joinNegativeValues(args),
    options: {
      ...modelFlags,
      ...generationFlags,
      edit: { type: 'string', multiple: true },
      prompt: { type: 'string' },
      strengths: { type: 'string', default: '0,1' },
      chat: { type: 'boolean', default: false },
    },
  }).values
}

/** Parse "-2,0,2" into strengths; a bad entry is named by its place in the whole value. */
export function parseStrengths(value: string): number[] {
  return value.split(',').map((part, index) => {
    const parsed = Number(part)
    if (part.trim() === '' || !Number.isFinite(parsed)) {
      const entry = part.trim() === '' ? 'is empty' : `is "${part}"`
      throw invalidFlag(
        'strengths',
        value,
        `entry ${index + 1} ${entry}; give comma-separated numbers, e.g. -2,0,2`,
      )
    }
    return parsed
  })
}

/** `tiller compare`: one prompt at several strengths of an edit, side by side. */
export const compareCommand: Command = {
  usage,
  async run(args) {
    const values = parse(args)
    const text = promptFlag(values.prompt)
    const provider = providerFlag(values.provider)
    const strengths = parseStrengths(values.strengths)
    const folder = modelFolderFlag(values.model)
    const options = generationOptions(values, { maxTokens: defaultMaxTokens })
    const choice = variantChoice(folder, values.variant)
    if (choice.note !== undefined) process.stderr.write(`note: ${choice.note}\n`)
    const edits = await readEditsFor(folder, values.edit ?? [], choice.graphFile)
    const steered = await loadSteeredModel(folder, edits, { provider, graphFile: choice.graphFile })
    try {
      const prompt = renderPrompt(steered.model.tokenizer, text, {
        chat: values.chat,
        maxTokens: options.maxTokens,
        contextLength: steered.model.config.maxPositionEmbeddings,
      })
      const rows = await compareStrengths(steered, prompt.ids, strengths, options)
      if (values.json) process.stdout.write(JSON.stringify(rows) + '\n')
      else for (const row of rows) process.stdout.write(`── strength ${row.strength}\n${row.text}\n`)
      return 0
    } finally {
      await steered.model.dispose()
    }
  },
}
