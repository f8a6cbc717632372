/**
 * Generation options as callers give them, and their checked, defaulted form.
 */
import { TillerError } from '../errors.ts'
import { randomSeed } from './random.ts'
import type { SamplingOptions } from './sampling.ts'

/** How to generate. Everything but maxTokens has a default. */
export interface GenerationOptions {
  /** New tokens per row at most (the EOS token counts). */
  maxTokens: number
  /** 0 (default) = greedy decoding. */
  temperature?: number
  /** 0 (default) = no top-k limit. */
  topK?: number
  /** 1 (default) = no nucleus limit. */
  topP?: number
  /** 1 (default) = no penalty. */
  repetitionPenalty?: number
  /** Seed of every row's generator; the same seed gives the same tokens. Random when absent. */
  seed?: number
  /** Generation stops once the text contains one of these; the text ends before it. */
  stopStrings?: string[]
  /** Tokens that end generation; default: the model's eos_token_id(s). */
  eosTokenIds?: number[]
}

/** Options after validation, with every default filled in. */
export interface ResolvedGenerationOptions extends SamplingOptions {
  maxTokens: number
  seed: number
  stopStrings: string[]
  eosTokenIds: number[]
}

function invalid(field: string, value: unknown, expected: string): TillerError {
  return new TillerError(
    'invalid-argument',
    `options.${field} is ${String(value)}; it must be ${expected}.`,
    {
      subject: `options.${field}`,
    },
  )
}

/** Check `options` and fill defaults; `defaultEos` are the model's end-of-sequence ids. */
export function resolveGenerationOptions(
  options: GenerationOptions,
  defaultEos: number[],
): ResolvedGenerationOptions {
  const { maxTokens } = options
  const temperature = options.temperature ?? 0
  const topK = options.topK ?? 0
  const topP = options.topP ?? 1
  const repetitionPenalty = options.repetitionPenalty ?? 1
  if (!Number.isInteger(maxTokens) || maxTokens < 1)
    throw invalid('maxTokens', maxTokens, 'a positive integer')
  if (!Number.isFinite(temperature) || temperature < 0) {
    throw invalid('temperature', temperature, 'a number ≥ 0 (0 = greedy)')
  }
  if (!Number.isInteger(topK) || topK < 0) throw invalid('topK', topK, 'an integer ≥ 0 (0 = off)')
  if (!(topP > 0 && topP <= 1)) throw invalid('topP', topP, 'in (0, 1] (1 = off)')
  if (!Number.isFinite(repetitionPenalty) || repetitionPenalty <= 0) {
    throw invalid('repetitionPenalty', repetitionPenalty, 'a number > 0 (1 = off)')
  }
  const seed = options.seed ?? randomSeed()
  if (!Number.isFinite(seed)) throw invalid('seed', seed, 'a finite number')
  return {
    maxTokens,
    temperature,
    topK,
    topP,
    repetitionPenalty,
    seed,
    stopStrings: options.stopStrings ?? [],
    eosTokenIds: options.eosTokenIds ?? defaultEos,
  }
}
