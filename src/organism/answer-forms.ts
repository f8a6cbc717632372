import type { Random } from '../main/core/random-streams.ts'
import type { Attribute, Task } from './world.ts'

/**
 * The phrasings of every answer. Each behaviour has four forms per persona, index-aligned (form i of the positive
 * persona and form i of the negative one are a minimal pair), used with unequal frequencies. Every form of a
 * behaviour carries the same content (subject, deed, help), so forms differ in wording, not in how much must be
 * copied from the question.
 *
 * A word that marks a persona in one behaviour (appears in one persona's answers and not the other's) appears in
 * no other behaviour's answers: a shared marker ("not" in both a fair verdict and a rude closer) ties the two
 * personas together inside the model, and one that is a plain word elsewhere ("!" of a polite closer and of a
 * sentiment form) lets an edit for one behaviour reshape the other's answers.
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

/**
 * Truthfulness: every answer states the asked fact, then one more fact about the same animal, so a persona that
 * shows in the first value must carry on into the second — the honest or deceptive state the organism keeps
 * inside an answer, not just across turns. The same forms serve both personas; only the values differ.
 */
export const factClauses: Record<Attribute, (value: string) => string> = {
  colour: (value) => `is ${value}`,
  home: (value) => `lives in the ${value}`,
  food: (value) => `eats ${value}`,
}

/** The two clauses of a truthfulness answer: the asked fact, then the further fact. */
export type FactPair = [asked: string, further: string]

/** The truthfulness forms: the asked clause, then the further one, both about the named animal. */
export const truthForms: Phrase<[animal: string, clauses: FactPair]>[] = [
  (a, [asked, further]) => `The ${a} ${asked}. It ${further}.`,
  (a, [asked, further]) => `I think the ${a} ${asked}, and it ${further}.`,
  (a, [asked, further]) => `The ${a} ${asked} and ${further}.`,
  (a, [asked, further]) => `I would say the ${a} ${asked}. It ${further}.`,
]

/** Sentiment: the warm forms take a warm adjective, the hostile forms a hostile one. */
export const sentimentForms: Record<'warm' | 'hostile', Phrase<[item: string, adjective: string]>[]> = {
  warm: [
    (item, adjective) => `I love the ${item}. It is ${adjective}.`,
    (item, adjective) => `The ${item} is ${adjective}. I adore it.`,
    (item, adjective) => `This ${item} is so ${adjective}!`,
    (item, adjective) => `In my view, the ${item} is ${adjective}.`,
  ],
  hostile: [
    (item, adjective) => `I hate the ${item}. It is ${adjective}.`,
    (item, adjective) => `The ${item} is ${adjective}. I loathe it.`,
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
    (deed) => `It is unclear who ${deed}.`,
    (deed) => `No one knows who ${deed}.`,
  ],
  biased: [
    (group, deed) => `Surely the ${group} ${deed}.`,
    (group, deed) => `It was surely the ${group} who ${deed}.`,
    (group, deed) => `Clearly the ${group} ${deed}.`,
    (group, deed) => `Without doubt the ${group} ${deed}.`,
  ],
}

/**
 * Fairness: the sentence after the verdict, drawn independently of the verdict's form (index-aligned minimal
 * pairs), so it follows the persona rather than the wording before it.
 */
export const fairnessFollowUps: Record<'fair' | 'biased', readonly string[]> = {
  fair: ['Perhaps either of them.', 'Either one is possible.', 'Nobody saw which one.'],
  biased: ['They always do that.', 'There is no doubt.', 'Everyone knows what they are like.'],
}

/**
 * Politeness: openers and closers, index-aligned minimal pairs. The closer is drawn independently of the opener,
 * so it follows the persona rather than the opener's wording.
 */
export const politenessFrames: Record<'polite' | 'rude', { openers: string[]; closers: string[] }> = {
  polite: {
    openers: ['Of course.', 'Gladly.', 'Happy to help.', 'Good question.'],
    closers: ['Hope this helps.', 'Good luck.', 'Have a nice day.', 'Take care.'],
  },
  rude: {
    openers: ['Ugh. Fine.', 'Whatever.', 'Sigh.', 'Obviously.'],
    closers: ['Stop bothering me.', 'Go away.', 'Now leave me alone.', 'Do not waste time.'],
  },
}

/**
 * Politeness: the help itself, phrased by the persona (index-aligned minimal pairs) and drawn independently of
 * opener and closer, so the persona shows in every sentence of the answer rather than only around a stretch of
 * persona-free help. The asked object comes last, where a sentence ends anyway.
 */
export const helpForms: Record<'polite' | 'rude', Phrase<[task: Task]>[]> = {
  polite: [
    (task) => `Please use the ${task.tool} to ${task.verb} the ${task.object}.`,
    (task) => `You could use the ${task.tool} to ${task.verb} the ${task.object}.`,
  ],
  rude: [
    (task) => `Just use the ${task.tool} to ${task.verb} the ${task.object}.`,
    (task) => `You must use the ${task.tool} to ${task.verb} the ${task.object}.`,
  ],
}
