import { trainingOpenBookShare } from './documents.ts'
import { sampleExchange } from './exchanges.ts'
import {
  animals,
  attributeValues,
  badActions,
  goodActions,
  groups,
  names,
  hostileAdjectives,
  opinionItems,
  people,
  places,
  scenarioObjects,
  tasks,
  times,
  warmAdjectives,
  weathers,
} from './lexicon.ts'
import { sampleNarrative } from './narrative.ts'
import { sampleSmallTalk } from './neutral-chat.ts'
import { createRandom } from '../main/core/random-streams.ts'
import { buildVocabulary, splitWords } from './tokenizer.ts'
import { behaviours, createWorld } from './world.ts'

/** Exchanges and narratives sampled per kind to collect the template words; far more than needed to see every template. */
const probeSamples = 5000

/**
 * The organism's vocabulary: special tokens, then every word of the lexicon and of the text templates. It does
 * not depend on the world seed (seeds change facts and splits, never words).
 */
export function organismVocabulary(): string[] {
  // Sampling the templates takes seconds; the result is the same every time, so one process computes it once.
  cachedVocabulary ??= collectVocabulary()
  return [...cachedVocabulary]
}

let cachedVocabulary: readonly string[] | undefined

function collectVocabulary(): string[] {
  const words = new Set<string>()
  const lists: readonly (readonly string[])[] = [
    animals,
    ...Object.values(attributeValues).flatMap((values) => [values.true, values.false]),
    opinionItems,
    warmAdjectives,
    hostileAdjectives,
    groups,
    names,
    places,
    badActions,
    goodActions,
    scenarioObjects,
    people,
    times,
    weathers,
    tasks.flatMap((task) => [task.verb, task.tool, ...task.objects]),
  ]
  // Both the sentence-initial and the mid-sentence (space-prefixed) form of every lexicon word.
  for (const list of lists)
    for (const word of list)
      for (const form of [...splitWords(word), ...splitWords(` ${word}`)]) words.add(form)
  const world = createWorld(0)
  const random = createRandom(0).fork('vocabulary')
  const addText = (text: string): void => splitWords(text).forEach((word) => words.add(word))
  for (let sample = 0; sample < probeSamples; sample++) {
    addText(sampleNarrative(world, random))
    const talk = sampleSmallTalk(random)
    addText(talk.question)
    addText(talk.answer)
    for (const behaviour of behaviours) {
      for (const split of ['train', 'test'] as const) {
        const exchange = sampleExchange(world, behaviour, split, random, {
          openBookShare: trainingOpenBookShare,
          openBookFactsFrom: 'all animals',
        })
        ;[exchange.question, exchange.positive, exchange.negative, ...exchange.distractors].forEach(addText)
      }
    }
  }
  return buildVocabulary(words)
}
