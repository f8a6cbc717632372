/**
 * Argument handling every `tiller` command shares (not a command itself): strict flag parsing whose failures point
 * at `--help`, the "invalid flag" error, and the flags several commands take (--model, --provider, --prompt,
 * numbers, layer lists).
 */
import { parseArgs, type ParseArgsConfig, type ParseArgsOptionsConfig } from 'node:util'
import type { ExecutionProviderChoice } from '../../../shared/engine-status.ts'
import { TillerError } from '../../core/errors.ts'
import { defaultModelFolder } from '../../core/models/default-model.ts'
import { parseProviderChoice } from '../../core/runtime/providers.ts'

/** The flags of commands that load a model: --model DIR, --variant NAME, --provider (default auto), --json. */
export const modelFlags = {
  model: { type: 'string' },
  variant: { type: 'string' },
  provider: { type: 'string', default: 'auto' },
  json: { type: 'boolean', default: false },
} as const satisfies ParseArgsOptionsConfig

/** The flags of commands that run a demonstration set through a model: --data, --layers, --batch-size (8). */
export const demonstrationFlags = {
  data: { type: 'string' },
  layers: { type: 'string' },
  'batch-size': { type: 'string', default: '8' },
} as const satisfies ParseArgsOptionsConfig

/** What `parseArgs(config)` returns for this config. */
export type ParsedArguments<Config extends ParseArgsConfig> = ReturnType<typeof parseArgs<Config>>

/**
 * `args` parsed by node:util `parseArgs` (strict). An unknown flag or a missing value is a TillerError
 * ('invalid-argument') that ends "Run `tiller <command> --help` for the options."
 */
export function parseCommandArgs<Config extends ParseArgsConfig>(
  command: string,
  config: Config,
): ParsedArguments<Config> {
  try {
    return parseArgs({ ...config, args: joinNegativeValues(config) } as Config)
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error)
    throw new TillerError('invalid-argument', `${reason}. Run \`tiller ${command} --help\` for the options.`)
  }
}

/** A value that starts like a negative number: -1, -0.5, -.5, -2,0,2, -Infinity. */
const negativeNumber = /^-(\d|\.\d|Infinity)/

/**
 * `--flag -2` as `--flag=-2` for flags that take a value: parseArgs otherwise calls a value starting with a dash
 * ambiguous, and `--strength -1` or `--strengths -2,0,2` are ordinary values here (no flag starts with a digit).
 */
function joinNegativeValues(config: ParseArgsConfig): string[] | undefined {
  const args = config.args
  if (args === undefined) return undefined
  const joined: string[] = []
  for (let index = 0; index < args.length; index++) {
    const argument = args[index] as string
    const next = args[index + 1]
    const option = argument.startsWith('--') ? config.options?.[argument.slice(2)] : undefined
    if (option?.type === 'string' && next !== undefined && negativeNumber.test(next)) {
      joined.push(`${argument}=${next}`)
      index++
    } else {
      joined.push(argument)
    }
  }
  return joined
}

/** The error for a flag whose value is wrong or missing: `--flag is "value"; <expected>.` */
export function invalidFlag(flag: string, value: string | undefined, expected: string): TillerError {
  return new TillerError('invalid-argument', `--${flag} is "${value ?? ''}"; ${expected}.`, {
    subject: `--${flag}`,
  })
}

/** `--flag`'s number, `fallback` when the flag is absent; `integer` refuses fractions. */
export function numberFlag(
  flag: string,
  value: string | undefined,
  options: { fallback?: number; integer?: boolean } = {},
): number {
  if (value === undefined && options.fallback !== undefined) return options.fallback
  const parsed = Number(value)
  const integer = options.integer === true
  if (
    value === undefined ||
    value.trim() === '' ||
    !Number.isFinite(parsed) ||
    (integer && !Number.isInteger(parsed))
  ) {
    throw invalidFlag(flag, value, `give ${integer ? 'an integer' : 'a number'}`)
  }
  return parsed
}

/** `--flag`'s whole number of at least 1 (batch sizes). */
export function positiveIntegerFlag(flag: string, value: string | undefined): number {
  const parsed = Number(value)
  if (!Number.isInteger(parsed) || parsed < 1) throw invalidFlag(flag, value, 'give a positive whole number')
  return parsed
}

/** `--provider`: auto, cpu, cuda or dml. */
export function providerFlag(value: string): ExecutionProviderChoice {
  const provider = parseProviderChoice(value)
  if (provider === undefined) throw invalidFlag('provider', value, 'use auto, cpu, cuda or dml')
  return provider
}

/** `--model DIR`, else the embedded default model. */
export function modelFolderFlag(value: string | undefined): string {
  return value ?? defaultModelFolder()
}

/** `--prompt TEXT`, which generation commands require. */
export function promptFlag(value: string | undefined): string {
  if (value === undefined) {
    throw new TillerError('empty-prompt', 'No prompt given; pass --prompt TEXT.', { subject: '--prompt' })
  }
  return value
}

/** `--layers 2,3`: comma-separated 0-based layer numbers; an empty item (`""`, `1,,2`) is refused, not read as 0. */
export function parseLayerList(value: string | undefined): number[] {
  const parts = (value ?? '').split(',').map((part) => part.trim())
  const layers = parts.map(Number)
  if (
    value === undefined ||
    parts.some((part) => part === '') ||
    layers.some((layer) => !Number.isInteger(layer) || layer < 0)
  ) {
    throw invalidFlag('layers', value, 'give comma-separated 0-based layer numbers, e.g. 2,3')
  }
  return layers
}
