import { describe, expect, it } from 'vitest'
import {
  numberFlag,
  parseCommandArgs,
  parseLayerList,
  positiveIntegerFlag,
  promptFlag,
  providerFlag,
} from '../../src/main/cli/commands/arguments.ts'
import { generationFlags, generationOptions } from '../../src/main/cli/commands/generation-flags.ts'
import { parseOptionAssignment } from '../../src/main/cli/commands/fit.ts'
import { parseStrengths } from '../../src/main/cli/commands/compare.ts'
import { isTillerError, type TillerError } from '../../src/main/core/errors.ts'

function failure(run: () => unknown): TillerError {
  try {
    run()
  } catch (error) {
    if (isTillerError(error)) return error
    throw error
  }
  throw new Error('expected a TillerError')
}

describe('shared CLI arguments', () => {
  it('parses strictly and points a bad flag at the command help', () => {
    const options = { json: { type: 'boolean', default: false } } as const
    expect(parseCommandArgs('doctor', { args: ['--json'], options }).values.json).toBe(true)
    const error = failure(() => parseCommandArgs('doctor', { args: ['--jsn'], options }))
    expect(error.code).toBe('invalid-argument')
    expect(error.message).toMatch(/'--jsn'.*Run `tiller doctor --help` for the options\.$/)
  })

  it('reads numbers, integers and fallbacks, naming the flag when a value is wrong', () => {
    expect(numberFlag('top-p', '0.5')).toBe(0.5)
    expect(numberFlag('seed', undefined, { fallback: 3, integer: true })).toBe(3)
    expect(numberFlag('strengths', '-2')).toBe(-2)
    const fraction = failure(() => numberFlag('seed', '1.5', { integer: true }))
    expect([fraction.message, fraction.subject]).toEqual(['--seed is "1.5"; give an integer.', '--seed'])
    expect(failure(() => numberFlag('temperature', ' ')).message).toBe('--temperature is " "; give a number.')
    expect(failure(() => numberFlag('temperature', undefined)).subject).toBe('--temperature')
    expect(positiveIntegerFlag('batch-size', '8')).toBe(8)
    expect(failure(() => positiveIntegerFlag('batch-size', '0')).message).toContain('positive whole number')
  })

  it('checks providers, prompts and layer lists', () => {
    expect(providerFlag('cpu')).toBe('cpu')
    expect(failure(() => providerFlag('gpu')).message).toBe(
      '--provider is "gpu"; use auto, cpu, cuda or dml.',
    )
    expect(promptFlag('')).toBe('')
    expect(failure(() => promptFlag(undefined)).code).toBe('empty-prompt')
    expect(parseLayerList('2, 3')).toEqual([2, 3])
    expect(failure(() => parseLayerList('1,-1')).subject).toBe('--layers')
  })

  it('turns the sampling flags into generation options with the command default for --max-tokens', () => {
    const { values } = parseCommandArgs('generate', {
      args: ['--temperature', '0', '--top-k', '40', '--stop', 'a', '--stop', 'b'],
      options: generationFlags,
    })
    expect(generationOptions(values, { maxTokens: 64 })).toEqual({
      maxTokens: 64,
      temperature: 0,
      topK: 40,
      topP: 1,
      repetitionPenalty: 1,
      seed: 0,
      stopStrings: ['a', 'b'],
    })
    expect(generationOptions({}, { maxTokens: 128 })).toMatchObject({ maxTokens: 128, temperature: 0.7 })
    expect(failure(() => generationOptions({ 'top-k': '2.5' }, { maxTokens: 1 })).subject).toBe('--top-k')
  })

  it("names the flag, not the engine's option field, when a sampling value is out of range", () => {
    const cases: [Record<string, string>, string, string][] = [
      [{ 'max-tokens': '0' }, '--max-tokens', '--max-tokens is 0; it must be a positive integer.'],
      [{ temperature: '-1' }, '--temperature', '--temperature is -1; it must be a number ≥ 0 (0 = greedy).'],
      [{ 'top-p': '0' }, '--top-p', '--top-p is 0; it must be in (0, 1] (1 = off).'],
      [{ 'top-k': '-3' }, '--top-k', '--top-k is -3; it must be an integer ≥ 0 (0 = off).'],
      [
        { 'repetition-penalty': '0' },
        '--repetition-penalty',
        '--repetition-penalty is 0; it must be a number > 0 (1 = off).',
      ],
    ]
    for (const [values, subject, message] of cases) {
      const error = failure(() => generationOptions(values, { maxTokens: 8 }))
      expect([error.code, error.subject, error.message]).toEqual(['invalid-argument', subject, message])
    }
  })

  it('refuses empty layer items instead of reading them as layer 0', () => {
    for (const value of ['', ' ', '1,,2', '1,', ',3']) {
      const error = failure(() => parseLayerList(value))
      expect([error.subject, error.message]).toEqual([
        '--layers',
        `--layers is "${value}"; give comma-separated 0-based layer numbers, e.g. 2,3.`,
      ])
    }
  })

  it('names a bad strength by its place in the whole list', () => {
    expect(parseStrengths('-2,0,2.5')).toEqual([-2, 0, 2.5])
    const cases: [string, string][] = [
      ['0,,1', '--strengths is "0,,1"; entry 2 is empty; give comma-separated numbers, e.g. -2,0,2.'],
      ['0,x', '--strengths is "0,x"; entry 2 is "x"; give comma-separated numbers, e.g. -2,0,2.'],
      ['1,', '--strengths is "1,"; entry 2 is empty; give comma-separated numbers, e.g. -2,0,2.'],
    ]
    for (const [value, message] of cases) {
      const error = failure(() => parseStrengths(value))
      expect([error.subject, error.message]).toEqual(['--strengths', message])
    }
  })

  it('takes negative numbers as values of flags that take one', () => {
    const options = {
      strength: { type: 'string' },
      strengths: { type: 'string' },
      temperature: { type: 'string' },
      json: { type: 'boolean', default: false },
    } as const
    const parsed = parseCommandArgs('compare', {
      args: ['--strengths', '-2,0,2', '--strength', '-1', '--temperature', '-.5', '--json'],
      options,
    })
    expect(parsed.values).toEqual({ strengths: '-2,0,2', strength: '-1', temperature: '-.5', json: true })
    expect(parsed.positionals).toEqual([])
    // A boolean flag takes no value, so a negative number after it stays what it was: an unexpected argument.
    expect(failure(() => parseCommandArgs('compare', { args: ['--json', '-1'], options })).message).toMatch(
      /'-1'/,
    )
    // A flag-like word is still not a value.
    expect(failure(() => parseCommandArgs('compare', { args: ['--strength', '--json'], options })).code).toBe(
      'invalid-argument',
    )
  })
})

describe('tiller fit --option', () => {
  it('reads NAME=VALUE as JSON when it parses, else as text, and refuses a missing name', () => {
    expect(parseOptionAssignment('scale=unit')).toEqual({ scale: 'unit' })
    expect(parseOptionAssignment('keep=0.99')).toEqual({ keep: 0.99 })
    expect(parseOptionAssignment('layers=[1,2]')).toEqual({ layers: [1, 2] })
    expect(parseOptionAssignment('centre=false')).toEqual({ centre: false })
    expect(() => parseOptionAssignment('=3')).toThrow(/NAME=VALUE/)
    expect(() => parseOptionAssignment('scale')).toThrow(/NAME=VALUE/)
  })
})
