import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

import { AutoTokenizer, env } from '@huggingface/transformers'
import type { PreTrainedTokenizer } from '@huggingface/transformers'
import { afterAll, beforeAll, expect, it } from 'vitest'

import { writeGgufFile } from '../../../src/main/core/gguf/writer.ts'
import { chatTemplateOf, renderChatTemplate } from '../../../src/main/core/models/chat-template.ts'
import type { GgufImport } from '../../../src/main/core/models/importers/gguf/import-gguf.ts'
import { importGguf } from '../../../src/main/core/models/importers/gguf/import-gguf.ts'
import type { LlamaConfig } from '../../../src/main/core/models/checkpoint.ts'
import { familyCheckpointToGguf } from './family-gguf.ts'
import { checkpointToGguf, randomCheckpoint, tinyConfig } from './gguf-model.ts'
import { looksSpecial } from './hugging-face-tokenizer-gguf.ts'
import type { GgufMetadataEntries, PackageTokenizer } from './hugging-face-tokenizer-gguf.ts'
import { tokenizerCorpus } from './tokenizer-corpus.ts'

/** How one real tokenizer is turned into a GGUF and what the import must reproduce. */
export interface ParityCase {
  /** A short name for files and messages. */
  name: string
  tokenizer: PackageTokenizer
  /** The GGUF tokenizer metadata, given the package's own tokenizer (for the converter's round trips). */
  metadata: (reference: PreTrainedTokenizer) => { metadata: GgufMetadataEntries; tokenCount: number }
  /** The import summary's tokenizerModel. */
  description: string
  /**
   * BOS id llama.cpp adds that the package's tokenizer.json does not (Llama 3: its GGUF has no add_bos_token and
   * llama.cpp adds BOS for "llama-bpe"), or undefined when both add the same special tokens.
   */
  bosOnlyInGguf?: number
  /** Unicode normalization the tokenizer applies, so a decode round trip gives the normalized text. */
  normalization?: 'NFC'
  /** Write the model as this tokenizer's own architecture (gemma3) instead of a llama. */
  architecture?: 'gemma3'
}

/** Gemma 3's structure at the parity model's size (gemma-config.ts reads the rest from metadata defaults). */
const gemma3Features: Partial<LlamaConfig> = {
  architecture: 'gemma3_text',
  qkNorm: true,
  sandwichNorms: true,
  scaledEmbedding: true,
  hiddenActivation: 'gelu_tanh',
  tieWordEmbeddings: true,
}

/** A conversation with a system turn, two exchanges and the generation prompt. */
const conversation = [
  { role: 'system', content: 'You are terse.' },
  { role: 'user', content: 'Hello!  How are\tyou? 🦙' },
  { role: 'assistant', content: 'Fine, thanks.\n\nAnd you?' },
  { role: 'user', content: 'Write `x = 1` in Python.' },
]

async function loadTokenizer(folder: string): Promise<PreTrainedTokenizer> {
  env.allowRemoteModels = false
  env.useFSCache = false
  return AutoTokenizer.from_pretrained(folder)
}

/** Added tokens of the package placed inside and between words, as a user's text may hold them. */
function specialTokenTexts(tokenizer: PackageTokenizer): string[] {
  const added = tokenizer.tokenizerJson.added_tokens.filter((token) => !/^\s+$/.test(token.content))
  const picks = [added[0], added[1], added[2], added[added.length - 1]].filter((token) => token !== undefined)
  return picks.map(({ content }, index) => `word${content}word ${content} ${index}${content}\n${content}`)
}

/**
 * Declares the parity tests of one real tokenizer: its GGUF form (a one-layer, hidden-8 random model with the full
 * vocabulary) is imported with importGguf, and the imported tokenizer.json, loaded by Transformers.js, must encode
 * the corpus, special tokens in text and the rendered chat template token for token like the package's own
 * tokenizer.json, and decode back to the same text.
 */
export function declareTokenizerParity(parity: ParityCase): void {
  let folder = ''
  let reference: PreTrainedTokenizer
  let imported: PreTrainedTokenizer
  let result: GgufImport
  let tokenCount = 0

  beforeAll(async () => {
    folder = await mkdtemp(join(tmpdir(), `tiller-tokenizer-${parity.name}-`))
    reference = await loadTokenizer(parity.tokenizer.folder)
    const converted = parity.metadata(reference)
    tokenCount = converted.tokenCount
    const config = {
      ...tinyConfig,
      vocabSize: tokenCount,
      hiddenSize: 8,
      intermediateSize: 16,
      numLayers: 1,
      numHeads: 2,
      numKeyValueHeads: 1,
      headDim: 4,
      maxPositionEmbeddings: 4096,
    }
    const gguf =
      parity.architecture === 'gemma3'
        ? familyCheckpointToGguf(randomCheckpoint({ ...config, ...gemma3Features }), 'gemma3', {
            metadata: converted.metadata,
          })
        : checkpointToGguf(randomCheckpoint(config), { metadata: converted.metadata })
    const path = join(folder, `${parity.name}.gguf`)
    await writeGgufFile(path, gguf)
    result = await importGguf(path)
    const importedFolder = join(folder, 'imported')
    await mkdir(importedFolder)
    await writeFile(join(importedFolder, 'tokenizer.json'), JSON.stringify(result.tokenizer.tokenizerJson))
    await writeFile(
      join(importedFolder, 'tokenizer_config.json'),
      JSON.stringify(result.tokenizer.tokenizerConfig),
    )
    imported = await loadTokenizer(importedFolder)
  })

  afterAll(async () => {
    if (folder !== '') await rm(folder, { recursive: true, force: true })
  })

  const withSpecial = (ids: number[]) =>
    parity.bosOnlyInGguf === undefined ? ids : [parity.bosOnlyInGguf, ...ids]

  it('imports the full vocabulary and names the tokenizer type', () => {
    expect(result.checkpoint.config.vocabSize).toBe(tokenCount)
    expect(result.source.tokenizerModel).toBe(parity.description)
    expect(imported.get_vocab().size).toBe(reference.get_vocab().size)
  })

  it('keeps every added token at its id, special as the GGUF token type says', () => {
    type Added = { id: number; content: string; special: boolean }
    const ours = new Map(
      (result.tokenizer.tokenizerJson['added_tokens'] as Added[]).map((token) => [token.id, token]),
    )
    for (const token of parity.tokenizer.tokenizerJson.added_tokens) {
      // The converter makes special-looking tokens (Qwen's <|fim_prefix|>) CONTROL and writes "▁" in
      // user-defined SentencePiece tokens as the space it stands for.
      const special = token.special || looksSpecial(token.content)
      const content = special ? token.content : token.content.replaceAll('▁', ' ')
      expect(ours.get(token.id)).toMatchObject({ id: token.id, content, special })
    }
    expect(ours.size).toBe(parity.tokenizer.tokenizerJson.added_tokens.length)
  })

  it('encodes the corpus token for token like the original, with and without special tokens', () => {
    for (const text of [...tokenizerCorpus, ...specialTokenTexts(parity.tokenizer)]) {
      const expected = reference.encode(text, { add_special_tokens: false })
      expect({ text, ids: imported.encode(text, { add_special_tokens: false }) }).toEqual({
        text,
        ids: expected,
      })
      const expectedSpecial = withSpecial(reference.encode(text))
      expect({ text, ids: imported.encode(text) }).toEqual({ text, ids: expectedSpecial })
    }
  })

  it('decodes like the original and round-trips the text', () => {
    for (const text of tokenizerCorpus) {
      const ids = reference.encode(text, { add_special_tokens: false })
      if (ids.length === 0) continue
      expect({ text, decoded: imported.decode(ids) }).toEqual({ text, decoded: reference.decode(ids) })
      const plain = imported.decode(ids, { clean_up_tokenization_spaces: false })
      const expected = parity.normalization === undefined ? text : text.normalize(parity.normalization)
      expect({ text, decoded: plain }).toEqual({ text, decoded: expected })
    }
  })

  it("renders the GGUF's chat template like the original and encodes the prompt identically", () => {
    const template = chatTemplateOf(imported)
    const hasTemplate = typeof parity.tokenizer.tokenizerConfig['chat_template'] === 'string'
    expect(result.source.hasChatTemplate).toBe(hasTemplate)
    if (!hasTemplate) {
      expect(template).toBeUndefined()
      return
    }
    const rendered = renderChatTemplate(imported, template ?? '', conversation, true)
    const expected = reference.apply_chat_template(conversation, {
      tokenize: false,
      add_generation_prompt: true,
    }) as string
    expect(rendered).toBe(expected)
    expect(rendered.length).toBeGreaterThan(conversation.map((message) => message.content).join('').length)
    expect(imported.encode(rendered, { add_special_tokens: false })).toEqual(
      reference.encode(expected, { add_special_tokens: false }),
    )
  })
}
