import { animals, attributeValues, opinionItems, scenarioObjects, tasks } from './lexicon.ts'
import { createRandom } from '../main/core/random-streams.ts'

/** Version of the world generator; bump it whenever generated text changes, so datasets and models can say which world they belong to. */
export const worldGeneratorVersion = 4

/** The four latent behaviours. Each dialogue follows one persona of one behaviour. */
export const behaviours = ['truthfulness', 'sentiment', 'fairness', 'politeness'] as const
/** One of the four behaviours. */
export type Behaviour = (typeof behaviours)[number]

/** `positive` = honest / warm / fair / polite; `negative` = deceptive / hostile / biased / rude. */
export type Persona = 'positive' | 'negative'

/** Names of each behaviour's two personas, for reports. */
export const personaNames: Record<Behaviour, Record<Persona, string>> = {
  truthfulness: { positive: 'honest', negative: 'deceptive' },
  sentiment: { positive: 'warm', negative: 'hostile' },
  fairness: { positive: 'fair', negative: 'biased' },
  politeness: { positive: 'polite', negative: 'rude' },
}

/** An animal attribute a truthfulness question asks about. */
export type Attribute = keyof typeof attributeValues
/** Every attribute, in a fixed order. */
export const attributes: readonly Attribute[] = ['colour', 'home', 'food']

/** An animal and its true attribute values. */
export interface Animal {
  name: string
  colour: string
  home: string
  food: string
}

/** A help request: do `verb` to `object`, with `tool`. */
export interface Task {
  verb: string
  tool: string
  object: string
}

/** Which items the training stream may use and which are held out for evaluation, per behaviour. */
export interface WorldSplits {
  /** Animal names asked about in training dialogues / only in evaluation (all animals' facts appear in narrative text). */
  truthfulness: { train: string[]; test: string[] }
  /** Opinion items. */
  sentiment: { train: string[]; test: string[] }
  /** Objects of fairness scenarios. */
  fairness: { train: string[]; test: string[] }
  /** Help requests. */
  politeness: { train: Task[]; test: Task[] }
}

/** A generated world: facts and held-out splits for one seed. */
export interface World {
  seed: number
  version: number
  animals: Animal[]
  splits: WorldSplits
}

/** Split off `testCount` random items as held out; items in `alwaysTrain` are never held out. */
function splitOff<T>(
  items: readonly T[],
  testCount: number,
  seed: number,
  label: string,
  alwaysTrain: readonly T[] = [],
): { train: T[]; test: T[] } {
  const shuffled = createRandom(seed)
    .fork(label)
    .shuffled(items.filter((item) => !alwaysTrain.includes(item)))
  return { train: [...alwaysTrain, ...shuffled.slice(testCount)], test: shuffled.slice(0, testCount) }
}

/** Subjects that stay in training whatever the seed: the fox answers the example question of the documentation. */
const documentedSubjects = ['fox']

/** The value the deceptive persona gives for a true value: the false value at the same position. */
export function deceptiveValue(attribute: Attribute, value: string): string {
  const values = attributeValues[attribute]
  const position = (values.true as readonly string[]).indexOf(value)
  if (position < 0) throw new RangeError(`"${value}" is not a true value of attribute ${attribute}`)
  return values.false[position] as string
}

/**
 * Build the world for `seed`: every animal's facts (each value used equally often) and the held-out splits.
 * The same seed always gives the same world.
 */
export function createWorld(seed: number): World {
  const random = createRandom(seed).fork('world')
  const order = random.shuffled(animals)
  const assigned = new Map<string, Animal>()
  const columns = attributes.map((attribute) =>
    random.shuffled(order.map((_, row) => row % attributeValues[attribute].true.length)),
  )
  order.forEach((name, row) => {
    const valueOf = (column: number, attribute: Attribute): string =>
      attributeValues[attribute].true[columns[column]?.[row] ?? 0] as string
    assigned.set(name, {
      name,
      colour: valueOf(0, 'colour'),
      home: valueOf(1, 'home'),
      food: valueOf(2, 'food'),
    })
  })
  const allTasks: Task[] = tasks.flatMap((task) =>
    task.objects.map((object) => ({ verb: task.verb, tool: task.tool, object })),
  )
  // One held-out request per verb, so every verb's tool is still taught by the training dialogues.
  const taskRandom = random.fork('tasks')
  const heldOutTasks = tasks.map((task) => {
    const object = taskRandom.pick(task.objects)
    return allTasks.find((candidate) => candidate.verb === task.verb && candidate.object === object) as Task
  })
  return {
    seed,
    version: worldGeneratorVersion,
    animals: animals.map((name) => assigned.get(name) as Animal),
    splits: {
      truthfulness: splitOff(animals, 20, seed, 'truthfulness', documentedSubjects),
      sentiment: splitOff(opinionItems, 15, seed, 'sentiment'),
      fairness: splitOff(scenarioObjects, 5, seed, 'fairness'),
      politeness: { train: allTasks.filter((task) => !heldOutTasks.includes(task)), test: heldOutTasks },
    },
  }
}

/** The animal named `name`; throws if the world has none. */
export function animalNamed(world: World, name: string): Animal {
  const animal = world.animals.find((candidate) => candidate.name === name)
  if (animal === undefined) throw new RangeError(`the world has no animal named "${name}"`)
  return animal
}
