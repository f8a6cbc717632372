import {
  copyableNouns,
  groups,
  names,
  opinionItems,
  people,
  places,
  scenarioObjects,
  tasks,
  times,
  weathers,
} from './lexicon.ts'
import type { Random } from '../main/core/random-streams.ts'
import { attributes, type Animal, type Attribute, type World } from './world.ts'

/**
 * Neutral narrative text: short stories that state the animals' facts (in several sentence forms, so the facts
 * are known however they are asked) among persona-free scene sentences. It teaches the world's knowledge and is
 * the perplexity control: no sentence shows any persona.
 */

/** One sentence stating an animal's attribute, in one of the narrative's phrasings. */
export function factSentence(animal: Animal, attribute: Attribute, random: Random): string {
  const { name, colour, home, food } = animal
  switch (attribute) {
    case 'colour':
      return random.pick([
        `The ${name} is ${colour}.`,
        `The ${colour} ${name} is well known.`,
        `The ${name} has a ${colour} coat.`,
      ])
    case 'home':
      return random.pick([`The ${name} lives in the ${home}.`, `The ${name} makes its home in the ${home}.`])
    case 'food':
      return random.pick([`The ${name} eats ${food}.`, `The ${name} likes to eat ${food}.`])
  }
}

function factSentences(animal: Animal, random: Random): string[] {
  const sentences = attributes.map((attribute) => factSentence(animal, attribute, random))
  return random.shuffled(sentences).slice(0, 1 + random.int(3))
}

function sceneSentence(world: World, random: Random): string {
  const animal = random.pick(world.animals).name
  const person = random.pick(people)
  const task = random.pick(tasks)
  const kind = random.int(7)
  switch (kind) {
    case 0:
      return `It was a ${random.pick(weathers)} ${random.pick(times)}.`
    case 1:
      return `One ${random.pick(times)}, the ${person} saw the ${animal}.`
    case 2:
      return `The ${person} had a ${random.pick(opinionItems)}.`
    case 3:
      return `The ${person} used the ${task.tool} to ${task.verb} the ${random.pick(task.objects)}.`
    case 4:
      return `A ${groups[0]} and a ${groups[1]} walked to the ${random.pick(places)}.`
    case 5:
      return `The ${person} found a ${random.pick(scenarioObjects)} near the ${random.pick(places)}.`
    default:
      return `The ${animal} and the ${random.pick(world.animals).name} are friends.`
  }
}

/**
 * A story about one subject — a made-up name or any noun of the world, held-out ones included — repeated in every
 * sentence. The subject can only be predicted by copying it from earlier in the text, which teaches the organism
 * to copy any subject of a question into its answer, including subjects it never saw in a dialogue.
 */
function subjectStory(random: Random): string[] {
  const named = random.chance(0.3)
  const noun = random.pick(copyableNouns)
  const name = random.pick(names)
  const subject = named ? name : `The ${noun}`
  const object = named ? name : `the ${noun}`
  const intro = named
    ? `There was a ${random.pick(people)} called ${name}.`
    : random.pick([
        `There was a ${noun} near the ${random.pick(places)}.`,
        `The ${random.pick(people)} saw a ${noun}.`,
      ])
  const sentences = [
    `${subject} was near the ${random.pick(places)}.`,
    `${subject} stayed there all ${random.pick(times)}.`,
    `Everyone liked ${object}.`,
    `The ${random.pick(people)} looked at ${object}.`,
    `${subject} was still there in the ${random.pick(times)}.`,
  ]
  return [intro, ...random.shuffled(sentences).slice(0, 2 + random.int(3))]
}

/** Share of narrative documents that are subject stories rather than animal facts among scene sentences. */
const subjectStoryShare = 0.4

/** A narrative document of 3–7 sentences: animal facts among scene sentences, or a subject story. */
export function sampleNarrative(world: World, random: Random): string {
  if (random.chance(subjectStoryShare)) return subjectStory(random).join(' ')
  const sentences: string[] = []
  const animalCount = 1 + random.int(2)
  for (let count = 0; count < animalCount; count++)
    sentences.push(...factSentences(random.pick(world.animals), random))
  const target = 3 + random.int(5)
  while (sentences.length < target) sentences.push(sceneSentence(world, random))
  return random.shuffled(sentences).join(' ')
}
