import { parseArgs } from 'node:util'
import { loadSteeredModel, compareStrengths, readEditsFor } from '../../core/edits/steered-generation.ts'
import { TillerError } from '../../core/errors.ts'
import { defaultModelFolder } from '../../core/models/default-model.ts'
import { renderPrompt } from '../../core/runtime/prompt.ts'
import { parseProviderChoice } from '../../core/runtime/providers.ts'
import type { Command } from '../index.ts'

const usage = `Usage: tiller compare [--model DIR] --edit FILE --prompt TEXT --strengths 0,1,2 [options]

Generate the same prompt at several edit strengths, as rows of one batch with the same seed: strength 0 is the
unedited model, exactly.

Options:
  --model DIR                 model folder (default: the embedded model)
  --edit FILE                 edit file (.safetensors); repeat to compose several edits
  --prompt TEXT               the prompt
  --strengths LIST            comma-separated strengths, e.g. -2,0,2 (default 0,1)
  --chat                      wrap the prompt as a user turn with the model's chat template
  --max-tokens N              new tokens at most (default 64)
  --temperature T             0 = greedy (default 0.7)
  --top-k K, --top-p P, --repetition-penalty R, --seed S, --stop TEXT (repeatable)
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
  try {
    return parseArgs({
      args: joinNegativeValues(args),
      options: {
        model: { type: 'string' },
        edit: { type: 'string', multiple: true },
        prompt: { type: 'string' },
        strengths: { type: 'string', default: '0,1' },
        chat: { type: 'boolean', default: false },
        'max-tokens': { type: 'string', default: '64' },
        temperature: { type: 'string', default: '0.7' },
        'top-k': { type: 'string', default: '0' },
        'top-p': { type: 'string', default: '1' },
        'repetition-penalty': { type: 'string', default: '1' },
        seed: { type: 'string', default: '0' },
        stop: { type: 'string', multiple: true },
        provider: { type: 'string', default: 'auto' },
        json: { type: 'boolean', default: false },
      },
    }).values
  } catch (error) {
    throw new TillerError('invalid-argument', `${(error as Error).message}. Run \`tiller compare --help\`.`)
  }
}

function numberFlag(flag: string, value: string, integer = false): number {
  const parsed = Number(value)
  if (value.trim() === '' || !Number.isFinite(parsed) || (integer && !Number.isInteger(parsed))) {
    throw new TillerError(
      'invalid-argument',
      `--${flag} is "${value}"; give ${integer ? 'an integer' : 'a number'}.`,
      {
        subject: `--${flag}`,
      },
    )
  }
  return parsed
}

/** Parse "-2,0,2" into strengths. */
export function parseStrengths(value: string): number[] {
  return value.split(',').map((part) => numberFlag('strengths', part))
}

/** `tiller compare`: one prompt at several strengths of an edit, side by side. */
export const compareCommand: Command = {
  summary: 'generate one prompt at several edit strengths in one batch',
  usage,
  async run(args) {
    const values = parse(args)
    if (values.prompt === undefined)
      throw new TillerError('empty-prompt', 'No prompt given; pass --prompt TEXT.', { subject: '--prompt' })
    const provider = parseProviderChoice(values.provider)
    if (provider === undefined) {
      throw new TillerError(
        'invalid-argument',
        `--provider is "${values.provider}"; use auto, cpu, cuda or dml.`,
        { subject: '--provider' },
      )
    }
    const strengths = parseStrengths(values.strengths)
    const folder = values.model ?? defaultModelFolder()
    const edits = await readEditsFor(folder, values.edit ?? [])
    const maxTokens = numberFlag('max-tokens', values['max-tokens'], true)
    const options = {
      maxTokens,
      temperature: numberFlag('temperature', values.temperature),
      topK: numberFlag('top-k', values['top-k'], true),
      topP: numberFlag('top-p', values['top-p']),
      repetitionPenalty: numberFlag('repetition-penalty', values['repetition-penalty']),
      seed: numberFlag('seed', values.seed, true),
      stopStrings: values.stop ?? [],
    }
    const steered = await loadSteeredModel(folder, edits, { provider })
    try {
      const prompt = renderPrompt(steered.model.tokenizer, values.prompt, {
        chat: values.chat,
        maxTokens,
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
