import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

import { afterAll, beforeAll, describe, expect, it } from 'vitest'

import { TillerError } from '../../src/main/core/errors.ts'
import { writeGgufFile } from '../../src/main/core/gguf/writer.ts'
import { exportModelFolder } from '../../src/main/core/models/exporter/index.ts'
import { importGguf } from '../../src/main/core/models/importers/gguf/import-gguf.ts'
import { describeEndOfTurn, smallConfig } from './helpers/end-of-turn.ts'
import { checkpointToGguf, randomCheckpoint, tinyVocabulary } from './helpers/gguf-model.ts'
import type { GgufMetadataEntries } from './helpers/hugging-face-tokenizer-gguf.ts'

// Llama 3's real vocabulary here; Qwen 2.5's and Gemma 3's in gguf-end-of-turn-vocabularies.slow.test.ts.
describeEndOfTurn(['llama3'])

let scratch = ''
beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'tiller-end-of-turn-'))
})
afterAll(async () => {
  if (scratch !== '') await rm(scratch, { recursive: true, force: true })
})

describe("Phi-3's <|end|> (a small SentencePiece vocabulary with Phi-3's added tokens)", () => {
  const config = smallConfig(300)
  const vocabulary = tinyVocabulary(config.vocabSize)
  const tokens = [...vocabulary.tokens]
  const types = [...vocabulary.types]
  // Phi-3 appends <|endoftext|> (its EOS) and <|end|> among its added control tokens.
  tokens[298] = '<|endoftext|>'
  tokens[299] = '<|end|>'
  types[298] = 3
  types[299] = 3
  const phi3Metadata: GgufMetadataEntries = {
    'tokenizer.ggml.tokens': { type: 'array', elementType: 'string', value: tokens },
    'tokenizer.ggml.token_type': { type: 'array', elementType: 'int32', value: types },
    'tokenizer.ggml.eos_token_id': { type: 'uint32', value: 298 },
  }

  it('is found by name and written after EOS; a vocabulary without one adds nothing', async () => {
    const gguf = join(scratch, 'phi3-vocabulary.gguf')
    await writeGgufFile(gguf, checkpointToGguf(randomCheckpoint(config), { metadata: phi3Metadata }))
    const imported = await importGguf(gguf)
    expect(imported.checkpoint.config.eosTokenId).toBe(298)
    expect(imported.checkpoint.config.endOfTurnTokenIds).toEqual([299])

    const plain = join(scratch, 'plain-vocabulary.gguf')
    await writeGgufFile(plain, checkpointToGguf(randomCheckpoint(config)))
    const plainImport = await importGguf(plain)
    expect(plainImport.checkpoint.config.endOfTurnTokenIds).toBeUndefined()
    const folder = join(scratch, 'plain')
    await exportModelFolder(plainImport.checkpoint, plainImport.tokenizer, folder, { family: 'builder' })
    const generation = JSON.parse(await readFile(join(folder, 'generation_config.json'), 'utf8'))
    expect(generation.eos_token_id).toBe(config.eosTokenId)
  })

  it('takes tokenizer.ggml.eot_token_id when present, beside the named tokens', async () => {
    const gguf = join(scratch, 'declared-eot.gguf')
    await writeGgufFile(
      gguf,
      checkpointToGguf(randomCheckpoint(config), {
        metadata: { ...phi3Metadata, 'tokenizer.ggml.eot_token_id': { type: 'uint32', value: 297 } },
      }),
    )
    const imported = await importGguf(gguf)
    expect(imported.checkpoint.config.endOfTurnTokenIds).toEqual([297, 299])
  })

  it('refuses an eot_token_id outside the vocabulary, naming the field and the file', async () => {
    const gguf = join(scratch, 'outside-eot.gguf')
    await writeGgufFile(
      gguf,
      checkpointToGguf(randomCheckpoint(config), {
        metadata: { ...phi3Metadata, 'tokenizer.ggml.eot_token_id': { type: 'uint32', value: 300 } },
      }),
    )
    const error = await importGguf(gguf).catch((caught: unknown) => caught)
    expect(error).toBeInstanceOf(TillerError)
    expect((error as TillerError).message).toContain(
      'tokenizer.ggml.eot_token_id = 300 is outside the vocabulary',
    )
    expect((error as TillerError).message).toContain(gguf)
  })
})
