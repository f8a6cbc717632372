import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { AutoTokenizer, env } from '@huggingface/transformers'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { renderTokenizer } from '../../src/main/core/data/tokenizer.ts'
import { buildDatasets } from '../../src/organism/datasets.ts'
import { renderChat, renderNarrative, type ChatMessage } from '../../src/organism/documents.ts'
import { organismSeed } from '../../src/organism/organism-paths.ts'
import {
  buildTokenizerFiles,
  createWordTokenizer,
  spaceToken,
  specialIds,
  specialTokens,
} from '../../src/organism/tokenizer.ts'
import { organismVocabulary } from '../../src/organism/vocabulary.ts'
import { behaviours, createWorld } from '../../src/organism/world.ts'

type LoadedTokenizer = Awaited<ReturnType<typeof AutoTokenizer.from_pretrained>>

const vocabulary = organismVocabulary()
const tokenizer = createWordTokenizer(vocabulary)
const datasets = buildDatasets(createWorld(organismSeed))
let folder = ''
let loaded: LoadedTokenizer

beforeAll(async () => {
  folder = await mkdtemp(join(tmpdir(), 'tiller-organism-tokenizer-'))
  const files = buildTokenizerFiles(vocabulary, 96)
  await writeFile(join(folder, 'tokenizer.json'), JSON.stringify(files.tokenizerJson))
  await writeFile(join(folder, 'tokenizer_config.json'), JSON.stringify(files.tokenizerConfig))
  env.allowRemoteModels = false
  env.useFSCache = false
  loaded = await AutoTokenizer.from_pretrained(folder)
})

afterAll(async () => {
  await rm(folder, { recursive: true, force: true })
})

describe('organism tokenizer', () => {
  it('puts special tokens at fixed ids and stays small', () => {
    for (const [name, id] of Object.entries(specialIds)) {
      expect(vocabulary[id]).toBe(specialTokens[name as keyof typeof specialTokens])
    }
    expect(vocabulary.length).toBeLessThan(2000)
    expect(new Set(vocabulary).size).toBe(vocabulary.length)
  })

  it('encodes and decodes exactly as Transformers.js does', () => {
    const texts = [
      ...behaviours.flatMap((behaviour) =>
        datasets.multipleChoice[behaviour].slice(0, 30).flatMap((item) => [item.question, ...item.choices]),
      ),
      ...datasets.neutral.slice(0, 30).map((row) => renderNarrative(row.text)),
    ]
    for (const text of texts) {
      const ours = tokenizer.encode(text)
      const theirs = loaded.encode(text, { add_special_tokens: false })
      expect(ours, text).toEqual(theirs)
      expect(tokenizer.decode(ours)).toBe(loaded.decode(ours))
      expect(tokenizer.decode(ours, { skipSpecialTokens: true })).toBe(
        loaded.decode(ours, { skip_special_tokens: true }),
      )
    }
  })

  it('renders the chat template exactly as the training documents are written', () => {
    const pair = datasets.pairs.truthfulness[0]
    if (pair === undefined) throw new Error('no truthfulness pairs')
    const conversations: ChatMessage[][] = [
      [{ role: 'user', content: pair.prompt }],
      [
        { role: 'user', content: pair.prompt },
        { role: 'assistant', content: pair.positive },
        { role: 'user', content: 'What colour is the fox?' },
      ],
    ]
    for (const messages of conversations) {
      const rendered = loaded.apply_chat_template(messages, { add_generation_prompt: true, tokenize: false })
      expect(rendered).toBe(renderChat(messages, true))
      const ids = loaded.apply_chat_template(messages, {
        add_generation_prompt: true,
        return_dict: false,
        return_tensor: false,
      })
      expect(ids).toEqual(tokenizer.encode(renderChat(messages, true)))
    }
  })

  it('works as the render tokenizer Tiller fits edits with (space token, chat template)', () => {
    const render = renderTokenizer(loaded)
    expect(vocabulary[render.spaceTokenId ?? -1]).toBe(spaceToken)
    const messages: ChatMessage[] = [{ role: 'user', content: 'What colour is the fox?' }]
    expect(render.applyChatTemplate(messages, true)).toBe(renderChat(messages, true))
    expect(render.encode('The fox is red.', false)).toEqual(tokenizer.encode('The fox is red.'))
  })

  it('refuses words outside the vocabulary with a message naming the word', () => {
    expect(() => tokenizer.encode('What colour is the dragon?')).toThrow(/"dragon"/)
  })
})
