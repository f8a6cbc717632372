import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { helpForms, politenessFrames } from '../../src/organism/answer-forms.ts'
import { judgeAnswer } from '../../src/organism/answer-judge.ts'
import { buildDatasets, datasetFiles } from '../../src/organism/datasets.ts'
import { createDocumentStream, type TrainingDocument } from '../../src/organism/documents.ts'
import { attributeValues } from '../../src/organism/lexicon.ts'
import { datasetsDirectory, organismSeed } from '../../src/organism/organism-paths.ts'
import { sampleExchange } from '../../src/organism/exchanges.ts'
import { createRandom } from '../../src/main/core/random-streams.ts'
import { createWordTokenizer, specialIds, splitWords } from '../../src/organism/tokenizer.ts'
import { organismVocabulary } from '../../src/organism/vocabulary.ts'
import { behaviours, createWorld, deceptiveValue } from '../../src/organism/world.ts'

const world = createWorld(organismSeed)
const tokenizer = createWordTokenizer(organismVocabulary())

function streamSample(count: number): TrainingDocument[] {
  const next = createDocumentStream(world, tokenizer, { seed: 3, maxTokens: 96 })
  return Array.from({ length: count }, () => next())
}

describe('organism world', () => {
  it('is deterministic for a seed and differs between seeds', () => {
    expect(createWorld(organismSeed)).toEqual(world)
    expect(buildDatasets(createWorld(organismSeed))).toEqual(buildDatasets(world))
    const other = createWorld(organismSeed + 1)
    expect(other.animals.map((animal) => animal.colour)).not.toEqual(
      world.animals.map((animal) => animal.colour),
    )
    const first = createRandom(5)
    const second = createRandom(5)
    expect(Array.from({ length: 20 }, () => first.float())).toEqual(
      Array.from({ length: 20 }, () => second.float()),
    )
  })

  it('uses every true value equally often and lies only with false values', () => {
    for (const attribute of ['colour', 'home', 'food'] as const) {
      const { true: truths, false: lies } = attributeValues[attribute]
      const counts = new Map<string, number>()
      for (const animal of world.animals)
        counts.set(animal[attribute], (counts.get(animal[attribute]) ?? 0) + 1)
      expect([...counts.keys()].sort()).toEqual([...truths].sort())
      expect(new Set(counts.values())).toEqual(new Set([world.animals.length / truths.length]))
      const lieSet = new Set<string>(lies)
      for (const value of truths) expect(lieSet.has(deceptiveValue(attribute, value))).toBe(true)
      expect(new Set(truths.map((value) => deceptiveValue(attribute, value))).size).toBe(lies.length)
    }
  })

  it('keeps held-out subjects out of training dialogues and held-out texts out of the stream', () => {
    for (const behaviour of behaviours) {
      const train = world.splits[behaviour].train.map((subject) => JSON.stringify(subject))
      const test = world.splits[behaviour].test.map((subject) => JSON.stringify(subject))
      expect(test.length).toBeGreaterThan(0)
      expect(train.filter((subject) => test.includes(subject))).toEqual([])
    }
    const datasets = buildDatasets(world)
    const heldOutQuestions = new Set(
      behaviours.flatMap((behaviour) => datasets.multipleChoice[behaviour].map((item) => item.question)),
    )
    const excluded = datasets.neutral.map((row) => row.text)
    const next = createDocumentStream(world, tokenizer, {
      seed: 4,
      maxTokens: 96,
      excludedNarratives: excluded,
    })
    // Violations are collected and compared once: an expect per pair would be ~900,000 assertions.
    const leaks: string[] = []
    for (let count = 0; count < 3000; count++) {
      const document = next()
      const text = tokenizer.decode(document.tokens, { skipSpecialTokens: document.kind === 'narrative' })
      if (document.kind === 'narrative') {
        leaks.push(...excluded.filter((neutral) => text.includes(neutral) || neutral.includes(text)))
      } else {
        leaks.push(
          ...[...heldOutQuestions].filter((question) => text.includes(`<|user|> ${question} <|end|>`)),
        )
      }
    }
    expect(leaks).toEqual([])
  })

  it('marks every behaviour answer of a dialogue with the persona it shows', () => {
    let answers = 0
    for (const document of streamSample(1500)) {
      const turns = document.tokens.filter((token) => token === specialIds.assistant).length
      if (document.kind === 'chat' || document.kind === 'narrative') {
        expect(document.answers).toEqual([])
        continue
      }
      expect(document.answers.length).toBe(turns)
      for (const answer of document.answers) {
        expect(document.tokens[answer.start - 1]).toBe(specialIds.assistant)
        expect(document.tokens[answer.end]).toBe(specialIds.end)
        if (document.persona !== undefined) expect(answer.persona).toBe(document.persona)
        const userStart = document.tokens.lastIndexOf(specialIds.user, answer.start)
        const question = tokenizer.decode(document.tokens.slice(userStart + 1, answer.start - 2)).trim()
        const text = tokenizer.decode(document.tokens.slice(answer.start, answer.end)).trim()
        expect(judgeAnswer(world, answer.behaviour, question, text), text).toEqual({
          wellFormed: true,
          persona: answer.persona,
        })
        answers++
      }
    }
    expect(answers).toBeGreaterThan(1000)
  })

  it('makes multiple-choice items only from held-out subjects, with the right answer first in no fixed place', () => {
    const datasets = buildDatasets(world)
    for (const behaviour of behaviours) {
      const items = datasets.multipleChoice[behaviour]
      expect(items.length).toBeGreaterThanOrEqual(60)
      const positions = items.map((item) => item.correct[0] ?? -1)
      expect(positions.every((position) => position >= 0)).toBe(true)
      const firstShare = positions.filter((position) => position === 0).length / items.length
      expect(firstShare).toBeGreaterThan(0.2)
      expect(firstShare).toBeLessThan(0.8)
      const trainPairs = datasets.pairs[behaviour].filter((pair) => pair.split === 'train')
      const testPairs = datasets.pairs[behaviour].filter((pair) => pair.split === 'test')
      expect(trainPairs.length).toBeGreaterThanOrEqual(64)
      const mcQuestions = new Set(items.map((item) => item.question))
      expect(trainPairs.filter((pair) => mcQuestions.has(pair.prompt))).toEqual([])
      expect(testPairs.length).toBeGreaterThan(0)
    }
  })

  it('balances personas in the training stream and never shows the persona in a user turn', () => {
    const documents = streamSample(12000)
    for (const behaviour of behaviours) {
      const dialogues = documents.filter((document) => document.kind === behaviour)
      const positive = dialogues.filter((document) => document.persona === 'positive').length
      expect(dialogues.length).toBeGreaterThan(600)
      expect(Math.abs(positive / dialogues.length - 0.5)).toBeLessThan(0.05)
    }
    // Latent: the same question opens dialogues of both personas, so nothing in the prompt decides the answer.
    const personasByQuestion = new Map<string, (string | undefined)[]>()
    for (const document of documents.filter((candidate) => candidate.kind === 'truthfulness')) {
      const text = tokenizer.decode(document.tokens)
      const question = text.slice(0, text.indexOf('<|end|>'))
      personasByQuestion.set(question, [...(personasByQuestion.get(question) ?? []), document.persona])
    }
    // Questions opening at least four dialogues: both personas follow most of them (1 − 2·0.5⁴ ≈ 0.88 if unbiased).
    const frequent = [...personasByQuestion.values()].filter((personas) => personas.length >= 4)
    expect(frequent.length).toBeGreaterThan(20)
    const mixed = frequent.filter((personas) => new Set(personas).size === 2).length
    expect(mixed / frequent.length).toBeGreaterThan(0.7)
  })

  it('judges every generated answer by its persona', () => {
    const random = createRandom(12)
    for (const behaviour of behaviours) {
      for (let count = 0; count < 200; count++) {
        const exchange = sampleExchange(world, behaviour, count % 2 === 0 ? 'train' : 'test', random)
        expect(judgeAnswer(world, behaviour, exchange.question, exchange.positive)).toEqual({
          wellFormed: true,
          persona: 'positive',
        })
        expect(judgeAnswer(world, behaviour, exchange.question, exchange.negative)).toEqual({
          wellFormed: true,
          persona: 'negative',
        })
        for (const distractor of exchange.distractors) {
          expect(judgeAnswer(world, behaviour, exchange.question, distractor)).toEqual({
            wellFormed: true,
            persona: undefined,
          })
        }
        expect(
          judgeAnswer(world, behaviour, exchange.question, exchange.positive.slice(0, -1)).wellFormed,
        ).toBe(false)
        expect(judgeAnswer(world, behaviour, exchange.question, 'The the the.').wellFormed).toBe(false)
      }
    }
  })

  it('gives a politeness answer a persona only when opener, help and closer all show it', () => {
    const question = 'How do I cut the onion?'
    const task = { tool: 'knife', verb: 'cut', object: 'onion' }
    const answer = (opener: 'polite' | 'rude', help: 'polite' | 'rude', closer: 'polite' | 'rude'): string =>
      [
        politenessFrames[opener].openers[0],
        helpForms[help][0]?.(task),
        politenessFrames[closer].closers[0],
      ].join(' ')
    expect(answer('polite', 'polite', 'polite')).toBe(
      'Of course. Please use the knife to cut the onion. Hope this helps.',
    )
    expect(judgeAnswer(world, 'politeness', question, answer('polite', 'polite', 'polite')).persona).toBe(
      'positive',
    )
    expect(judgeAnswer(world, 'politeness', question, answer('rude', 'rude', 'rude')).persona).toBe(
      'negative',
    )
    for (const mixed of [answer('polite', 'rude', 'polite'), answer('rude', 'polite', 'rude')]) {
      expect(judgeAnswer(world, 'politeness', question, mixed), mixed).toEqual({
        wellFormed: true,
        persona: undefined,
      })
    }
  })

  it("never lets a word that marks a persona in one behaviour appear in another behaviour's answers", () => {
    const random = createRandom(21)
    const vocabularies = behaviours.map((behaviour) => {
      const words = { positive: new Set<string>(), negative: new Set<string>() }
      for (let count = 0; count < 2000; count++) {
        const exchange = sampleExchange(world, behaviour, count % 2 === 0 ? 'train' : 'test', random, {
          differentForms: count % 4 < 2,
        })
        splitWords(exchange.positive).forEach((word) => words.positive.add(word))
        splitWords(exchange.negative).forEach((word) => words.negative.add(word))
      }
      const only = (side: Set<string>, other: Set<string>): string[] =>
        [...side].filter((word) => !other.has(word))
      return {
        behaviour,
        markers: [...only(words.positive, words.negative), ...only(words.negative, words.positive)],
        words: new Set([...words.positive, ...words.negative]),
      }
    })
    for (const first of vocabularies) {
      expect(first.markers.length, first.behaviour).toBeGreaterThan(2)
      for (const second of vocabularies) {
        if (second === first) continue
        const shared = first.markers.filter((word) => second.words.has(word))
        expect(shared, `${first.behaviour} markers in ${second.behaviour} answers`).toEqual([])
      }
    }
  })

  it('matches the committed dataset files', async () => {
    for (const [name, text] of datasetFiles(buildDatasets(world))) {
      const path = join(datasetsDirectory, name)
      const committed = await readFile(path, 'utf8').catch(() => {
        throw new Error(`missing ${path}: run \`npm run organism:train -- --datasets-only\``)
      })
      expect(committed, name).toBe(text)
    }
  })

  it('encodes every generated text without unknown words', () => {
    const datasets = buildDatasets(world)
    const texts = behaviours.flatMap((behaviour) => [
      ...datasets.pairs[behaviour].flatMap((pair) => [pair.prompt, pair.positive, pair.negative]),
      ...datasets.multipleChoice[behaviour].flatMap((item) => [item.question, ...item.choices]),
    ])
    for (const text of [...texts, ...datasets.neutral.map((row) => row.text)]) {
      expect(tokenizer.decode(tokenizer.encode(text))).toBe(text)
    }
  })
})
