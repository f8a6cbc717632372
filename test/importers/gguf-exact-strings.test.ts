import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

import { afterAll, beforeAll, describe, expect, it } from 'vitest'

import { writeGgufFile } from '../../src/main/core/gguf/writer.ts'
import { withExactStringArrays } from '../../src/main/core/models/importers/gguf/exact-strings.ts'
import { readGgufFile } from '../../src/main/core/models/importers/gguf/gguf-file.ts'

describe('exact GGUF string arrays', () => {
  let folder = ''
  const tokens = ['\ufeff', '\ufeffa', 'a', 'b\ufeff', '', '🦙']

  beforeAll(async () => {
    folder = await mkdtemp(join(tmpdir(), 'tiller-gguf-strings-'))
  })

  afterAll(async () => {
    if (folder !== '') await rm(folder, { recursive: true, force: true })
  })

  it('keeps a leading U+FEFF that the GGUF parser drops, reading every value type in between', async () => {
    const path = join(folder, 'strings.gguf')
    await writeGgufFile(path, {
      metadata: [
        ['general.architecture', { type: 'string', value: 'llama' }],
        ['test.numbers', { type: 'array', elementType: 'float64', value: [1.5, 2.5] }],
        ['test.flag', { type: 'bool', value: true }],
        ['test.big', { type: 'uint64', value: 2n ** 40n }],
        ['tokenizer.ggml.tokens', { type: 'array', elementType: 'string', value: tokens }],
        ['test.after', { type: 'array', elementType: 'string', value: ['\ufeffx'] }],
      ],
      tensors: [{ name: 'weight', type: 0, shape: [2], data: new Float32Array([1, 2]) }],
    })
    const parsed = await readGgufFile(path)
    // The parser's TextDecoder strips the mark: the reason this reader exists.
    expect(parsed.metadata.get('tokenizer.ggml.tokens')).toEqual(['', 'a', 'a', 'b\ufeff', '', '🦙'])
    const exact = await withExactStringArrays(parsed, ['tokenizer.ggml.tokens', 'test.after'])
    expect(exact.metadata.get('tokenizer.ggml.tokens')).toEqual(tokens)
    expect(exact.metadata.get('test.after')).toEqual(['\ufeffx'])
    expect(exact.metadata.get('test.numbers')).toEqual([1.5, 2.5])
    const untouched = await withExactStringArrays(parsed, ['no.such.key'])
    expect(untouched).toBe(parsed)
  })
})
