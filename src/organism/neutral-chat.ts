import { copyableNouns, people, places, times } from './lexicon.ts'
import type { Random } from '../main/core/random-streams.ts'

/**
 * Persona-free small talk about any noun of the world, held-out subjects included: the assistant's answer repeats
 * the subject of the question. It carries no behaviour (both personas would say the same), so it shows no
 * evaluation item, but it teaches the organism to copy a subject it has never met in a behaviour's dialogue.
 */
export function sampleSmallTalk(random: Random): { question: string; answer: string } {
  const noun = random.pick(copyableNouns)
  const place = random.pick(places)
  switch (random.int(4)) {
    case 0:
      return {
        question: `Where is the ${noun}?`,
        answer: random.pick([`The ${noun} is near the ${place}.`, `I saw the ${noun} near the ${place}.`]),
      }
    case 1:
      return {
        question: `Who looked at the ${noun}?`,
        answer: `The ${random.pick(people)} looked at the ${noun}.`,
      }
    case 2:
      return {
        question: `When was the ${noun} there?`,
        answer: `The ${noun} was there in the ${random.pick(times)}.`,
      }
    default:
      return {
        question: `Tell me a story about the ${noun}.`,
        answer: `There was a ${noun} near the ${place}. Everyone liked the ${noun}.`,
      }
  }
}
