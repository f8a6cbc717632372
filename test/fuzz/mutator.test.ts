import { describe, expect, it } from 'vitest'

import { serializeGguf } from '../../src/main/core/gguf/writer.ts'
import { checkpointToGguf, randomCheckpoint, tinyConfig } from '../importers/helpers/gguf-model.ts'
import { ggufIntegerFields } from './gguf-fields.ts'
import { Random, caseSeed, concat, mutateBytes, mutateJsonText } from './mutator.ts'

/** The mutator is what makes every fuzz case reproducible from (format, seed, case); these pin that down. */

describe('fuzz mutator', () => {
  it('is deterministic per case seed and differs between cases', () => {
    const input = Uint8Array.from({ length: 256 }, (_, index) => index)
    const run = (caseIndex: number) => mutateBytes(input, new Random(caseSeed(1, 'format', caseIndex)))
    expect(run(7)).toEqual(run(7))
    const distinct = new Set(Array.from({ length: 20 }, (_, caseIndex) => run(caseIndex).join(',')))
    expect(distinct.size).toBeGreaterThan(15)
    expect(input[5]).toBe(5)
  })

  it('JSON damage includes deleted and duplicated keys, deep nesting and unwritable numbers', () => {
    const text = JSON.stringify({ name: 'x', size: 3, items: [1, 2], nested: { flag: true } })
    const outputs = Array.from({ length: 300 }, (_, caseIndex) => mutateJsonText(text, new Random(caseIndex)))
    expect(outputs.every((output) => output !== undefined)).toBe(true)
    const parsed = outputs.map((output) => {
      try {
        return JSON.parse(output as string) as unknown
      } catch {
        return undefined
      }
    })
    expect(outputs.some((output) => /"(name|size|items|nested)":.*"\1":/.test(output as string))).toBe(true)
    expect(outputs.some((output) => (output as string).includes('['.repeat(1000)))).toBe(true)
    expect(outputs.some((output) => (output as string).includes('1e400'))).toBe(true)
    expect(parsed.some((value) => value !== undefined && !('name' in (value as object)))).toBe(true)
    expect(mutateJsonText('not json', new Random(1))).toBeUndefined()
  })

  it('finds the integer fields of a GGUF file where the format puts them', () => {
    const content = checkpointToGguf(randomCheckpoint(tinyConfig, 3))
    const bytes = concat(serializeGguf(content))
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
    const fields = ggufIntegerFields(bytes)
    const read = (index: number) => {
      const field = fields[index] as { offset: number; width: 4 | 8 }
      return field.width === 4
        ? view.getUint32(field.offset, true)
        : Number(view.getBigUint64(field.offset, true))
    }
    expect(read(0)).toBe(content.tensors.length)
    expect(read(1)).toBe(content.metadata.length)
    // The first key's length, then its value type (string = 8), then the string's length.
    expect(read(2)).toBe('general.architecture'.length)
    expect(read(3)).toBe(8)
    expect(read(4)).toBe('llama'.length)
    // The last tensor info ends with its type then its data offset, which is past every earlier tensor's data.
    expect(read(fields.length - 1)).toBeGreaterThan(0)
    expect(read(fields.length - 2)).toBe(0)
  })
})
