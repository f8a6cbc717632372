/**
 * The sampling flags `tiller generate` and `tiller compare` share: their parseArgs table, their usage lines and
 * their conversion to GenerationOptions (not a command itself).
 */
import type { ParseArgsOptionsConfig } from 'node:util'
import { isTillerError, TillerError } from '../../core/errors.ts'
import { resolveGenerationOptions, type GenerationOptions } from '../../core/runtime/generation-options.ts'
import { numberFlag } from './arguments.ts'

/** The parseArgs options of the sampling flags; absent flags take `generationOptions`' defaults. */
export const generationFlags = {
  'max-tokens': { type: 'string' },
  temperature: { type: 'string' },
  'top-k': { type: 'string' },
  'top-p': { type: 'string' },
  'repetition-penalty': { type: 'string' },
  seed: { type: 'string' },
  stop: { type: 'string', multiple: true },
} as const satisfies ParseArgsOptionsConfig

/** The flag of each checked GenerationOptions field. */
const flagOfField: Record<string, string> = {
  maxTokens: 'max-tokens',
  temperature: 'temperature',
  topK: 'top-k',
  topP: 'top-p',
  repetitionPenalty: 'repetition-penalty',
  seed: 'seed',
}

/** The usage lines of the sampling flags, with the command's default for --max-tokens. */
export function generationFlagsUsage(maxTokens: number): string {
  return [
    `  --max-tokens N              new tokens at most (default ${maxTokens})`,
    '  --temperature T             0 = greedy (default 0.7)',
    '  --top-k K                   keep the K most likely tokens; 0 = off (default 0)',
    '  --top-p P                   nucleus sampling mass in (0, 1]; 1 = off (default 1)',
    '  --repetition-penalty R      > 1 discourages repeats; 1 = off (default 1)',
    '  --seed S                    sampling seed (default 0)',
    '  --stop TEXT                 stop when the text contains TEXT (repeatable)',
  ].join('\n')
}

/** The parsed values of the sampling flags. */
export interface GenerationFlagValues {
  'max-tokens'?: string
  temperature?: string
  'top-k'?: string
  'top-p'?: string
  'repetition-penalty'?: string
  seed?: string
  stop?: string[]
}

/**
 * GenerationOptions from the sampling flags: temperature 0.7, no top-k or top-p limit, no repetition penalty and
 * seed 0 unless given; `maxTokens` is the command's default for --max-tokens. Bad numbers name their flag.
 */
export function generationOptions(
  values: GenerationFlagValues,
  defaults: { maxTokens: number },
): GenerationOptions & { maxTokens: number } {
  const options = {
    maxTokens: numberFlag('max-tokens', values['max-tokens'], {
      fallback: defaults.maxTokens,
      integer: true,
    }),
    temperature: numberFlag('temperature', values.temperature, { fallback: 0.7 }),
    topK: numberFlag('top-k', values['top-k'], { fallback: 0, integer: true }),
    topP: numberFlag('top-p', values['top-p'], { fallback: 1 }),
    repetitionPenalty: numberFlag('repetition-penalty', values['repetition-penalty'], { fallback: 1 }),
    seed: numberFlag('seed', values.seed, { fallback: 0, integer: true }),
    stopStrings: values.stop ?? [],
  }
  // The engine's checks name its fields (options.maxTokens); at the command line they name the flag.
  try {
    resolveGenerationOptions(options, [])
  } catch (error) {
    const field = isTillerError(error, 'invalid-argument')
      ? error.subject?.replace(/^options\./, '')
      : undefined
    const flag = field === undefined ? undefined : flagOfField[field]
    if (flag === undefined) throw error
    throw new TillerError(
      'invalid-argument',
      (error as TillerError).message.replace(`options.${field}`, `--${flag}`),
      { subject: `--${flag}`, cause: error },
    )
  }
  return options
}
