import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

import { PreTrainedTokenizer } from '@huggingface/transformers'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'

import { writeGgufFile } from '../../src/main/core/gguf/writer.ts'
import type { GgufMetadataValue } from '../../src/main/core/gguf/writer.ts'
import { importGguf } from '../../src/main/core/models/importers/gguf/import-gguf.ts'
import { tinyBytePairMetadata } from './helpers/byte-pair-gguf.ts'
import { checkpointToGguf, randomCheckpoint, tinyConfig } from './helpers/gguf-model.ts'

describe('GGUF byte-level BPE import, by hand on a tiny vocabulary', () => {
  let folder = ''

  beforeAll(async () => {
    folder = await mkdtemp(join(tmpdir(), 'tiller-gguf-byte-pair-'))
  })

  afterAll(async () => {
    if (folder !== '') await rm(folder, { recursive: true, force: true })
  })

  async function importTiny(name: string, overrides: Record<string, GgufMetadataValue | undefined> = {}) {
    const path = join(folder, `${name}.gguf`)
    const metadata = { ...tinyBytePairMetadata(tinyConfig.vocabSize), ...overrides }
    await writeGgufFile(path, checkpointToGguf(randomCheckpoint(tinyConfig), { metadata }))
    const imported = await importGguf(path)
    const { tokenizerJson, tokenizerConfig } = imported.tokenizer
    return { imported, tokenizer: new PreTrainedTokenizer(tokenizerJson, tokenizerConfig) }
  }

  it('splits, merges by rank and adds BOS as llama.cpp does for llama-bpe', async () => {
    const { imported, tokenizer } = await importTiny('llama-bpe')
    expect(imported.source.tokenizerModel).toBe('byte-level BPE (llama-bpe)')
    // Byte ids are GPT-2's table: printable ASCII at its own code, space (0x20) is "Ġ" = id 32.
    // Merged tokens follow at 256.. in merge order: Ġt, he, Ġthe, in, Ġa, er; then <|endoftext|> at 262.
    const [spaceT, he, spaceThe, inToken, spaceA, er, endOfText] = [
      256, 257, 258, 259, 260, 261, 262,
    ] as const
    const byte = (character: string) => character.charCodeAt(0)
    // "the" → t + he ("h e" merges; "Ġt he" needs a space); " the" → Ġt + he → Ġthe; " in" → Ġ + in;
    // " her" → Ġ + he + r: "h e" outranks "e r".
    expect(tokenizer.encode('the the in a her', { add_special_tokens: false })).toEqual([
      byte('t'),
      he,
      spaceThe,
      32,
      inToken,
      spaceA,
      32,
      he,
      byte('r'),
    ])
    expect(tokenizer.encode('very', { add_special_tokens: false })).toEqual([byte('v'), er, byte('y')])
    // add_bos_token is absent and llama.cpp adds BOS for llama-bpe; the control token is matched inside text.
    expect(tokenizer.encode('a<|endoftext|>a')).toEqual([endOfText, byte('a'), endOfText, byte('a')])
    // llama-bpe decodes with clean_up_tokenization_spaces, which drops the space before "!".
    expect(tokenizer.decode([spaceT, he, 32, byte('!')])).toBe(' the!')
    expect(tokenizer.decode([spaceT, he, 32, byte('!')], { clean_up_tokenization_spaces: false })).toBe(
      ' the !',
    )
    const config = imported.tokenizer.tokenizerConfig
    expect(config).toMatchObject({ add_bos_token: true, add_eos_token: false, bos_token: '<|endoftext|>' })
    const added = imported.tokenizer.tokenizerJson['added_tokens'] as { id: number; special: boolean }[]
    expect(added.map(({ id, special }) => [id, special])).toEqual([[endOfText, true]])
  })

  it('follows add_bos_token and the qwen2 pre-tokenizer when the file sets them', async () => {
    const { imported, tokenizer } = await importTiny('qwen2', {
      'tokenizer.ggml.pre': { type: 'string', value: 'qwen2' },
      'tokenizer.ggml.add_bos_token': { type: 'bool', value: false },
      'tokenizer.ggml.bos_token_id': undefined,
    })
    expect(imported.source.tokenizerModel).toBe('byte-level BPE (qwen2)')
    // No BOS named and none added: the tokenizer has no BOS (not llama.cpp's stand-in id 11, a comma here).
    expect(imported.tokenizer.tokenizerConfig).toMatchObject({ bos_token: null, eos_token: '<|endoftext|>' })
    // Digits one by one, no BOS.
    expect(tokenizer.encode('42 the')).toEqual([52, 50, 258])
  })

  it('refuses add_bos_token when the BOS id names no token', async () => {
    const path = join(folder, 'no-bos.gguf')
    const metadata = {
      ...tinyBytePairMetadata(tinyConfig.vocabSize),
      'tokenizer.ggml.tokens': {
        type: 'array',
        elementType: 'string',
        value: [...'abcdefghij'],
      },
      'tokenizer.ggml.token_type': undefined,
      'tokenizer.ggml.merges': { type: 'array', elementType: 'string', value: ['a b'] },
      'tokenizer.ggml.bos_token_id': undefined,
      'tokenizer.ggml.eos_token_id': undefined,
    } as const
    await writeGgufFile(
      path,
      checkpointToGguf(randomCheckpoint({ ...tinyConfig, vocabSize: 10, bosTokenId: 1, eosTokenId: 2 }), {
        metadata: { ...metadata, 'tokenizer.ggml.bos_token_id': undefined },
      }),
    )
    const error = await importGguf(path).then(
      () => undefined,
      (caught: unknown) => caught,
    )
    expect(error).toMatchObject({ code: 'file-corrupt' })
    expect((error as Error).message).toContain('tokenizer.ggml.add_bos_token is true')
  })
})
