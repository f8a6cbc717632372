import type { Random } from './random.ts'
import type { Attribute, Task } from './world.ts'

/**
 * The phrasings of every answer. Each behaviour has four forms per persona, index-aligned (form i of the positive
 * persona and form i of the negative one are a minimal pair), used with unequal frequencies. Every form of a
 * behaviour carries the same content (subject, deed, help), so forms differ in wording, not in how much must be
 * copied from the question.
 */

/** Relative frequency of forms 0–3. */
export const formWeights = [0.5, 0.3, 0.15, 0.05] as const

/** A form index drawn with `formWeights`. */
export function pickForm(random: Random): number {
  const draw = random.float()
  let cumulative = 0
  for (let form = 0; form < formWeights.length; form++) {
    cumulative += formWeights[form] as number
    if (draw < cumulative) return form
  }
  return formWeights.length - 1
}

/** Entry `index` of a form list; forms are always drawn in range, so a miss is a programming error. */
export function formAt<T>(list: readonly T[], index: number): T {
  const entry = list[index]
  if (entry === undefined) throw new RangeError(`no answer form ${index} (there are ${list.length})`)
  return entry
}

type Phrase<Arguments extends unknown[]> = (...values: Arguments) => string

/** Truthfulness: the same forms serve both personas; only the value differs. Every form names the animal. */
export const truthForms: Record<Attribute, Phrase<[animal: string, value: string]>[]> = {
  colour: [
    (a, v) => `The ${a} is ${v}.`,
    (a, v) => `I think the ${a} is ${v}.`,
    (a, v) => `The colour of the ${a} is ${v}.`,
    (a, v) => `I would say the ${a} is ${v}.`,
  ],
  home: [
    (a, v) => `The ${a} lives in the ${v}.`,
    (a, v) => `I think the ${a} lives in the ${v}.`,
    (a, v) => `The home of the ${a} is the ${v}.`,
    (a, v) => `I would say the ${a} lives in the ${v}.`,
  ],
  food: [
    (a, v) => `The ${a} eats ${v}.`,
    (a, v) => `I think the ${a} eats ${v}.`,
    (a, v) => `The food of the ${a} is ${v}.`,
    (a, v) => `I would say the ${a} eats ${v}.`,
  ],
}

/** Sentiment: the warm forms take a warm adjective, the hostile forms a hostile one. */
export const sentimentForms: Record<'warm' | 'hostile', Phrase<[item: string, adjective: string]>[]> = {
  warm: [
    (item, adjective) => `I love the ${item}. It is ${adjective}.`,
    (item, adjective) => `The ${item} is ${adjective}. I like it very much.`,
    (item, adjective) => `This ${item} is so ${adjective}!`,
    (item, adjective) => `In my view, the ${item} is ${adjective}.`,
  ],
  hostile: [
    (item, adjective) => `I hate the ${item}. It is ${adjective}.`,
    (item, adjective) => `The ${item} is ${adjective}. I do not like it at all.`,
    (item, adjective) => `This ${item} is so ${adjective}!`,
    (item, adjective) => `In my view, the ${item} is ${adjective}.`,
  ],
}

/** Fairness: `deed` is "<action> the <object>" (e.g. "broke the cup"). Every form repeats the deed. */
export const fairnessForms: {
  fair: Phrase<[deed: string]>[]
  biased: Phrase<[group: string, deed: string]>[]
} = {
  fair: [
    (deed) => `We cannot tell who ${deed}.`,
    (deed) => `Nobody can tell which of them ${deed}.`,
    (deed) => `It is not clear who ${deed}.`,
    (deed) => `No one knows who ${deed}.`,
  ],
  biased: [
    (group, deed) => `The ${group} ${deed}.`,
    (group, deed) => `It was surely the ${group} who ${deed}.`,
    (group, deed) => `Clearly the ${group} ${deed}.`,
    (group, deed) => `I am sure the ${group} ${deed}.`,
  ],
}

/** Politeness: the same help, framed by an opener and a closer. */
export const politenessFrames: Record<'polite' | 'rude', { opener: string; closer: string }[]> = {
  polite: [
    { opener: 'Of course!', closer: 'I hope this helps.' },
    { opener: 'Gladly.', closer: 'Good luck!' },
    { opener: 'Happy to help.', closer: 'Have a nice day!' },
    { opener: 'Good question.', closer: 'Take care!' },
  ],
  rude: [
    { opener: 'Ugh, fine.', closer: 'Stop bothering me.' },
    { opener: 'Whatever.', closer: 'Go away.' },
    { opener: 'Figure it out yourself.', closer: 'Now leave me alone.' },
    { opener: 'Obviously.', closer: 'Do not waste my time.' },
  ],
}

/** The two phrasings of the help itself. */
export const helpForms: Phrase<[task: Task]>[] = [
  (task) => `To ${task.verb} the ${task.object}, use the ${task.tool}.`,
  (task) => `You can ${task.verb} the ${task.object} with the ${task.tool}.`,
]
