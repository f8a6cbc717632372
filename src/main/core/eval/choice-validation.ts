import { TillerError } from '../errors.ts'

/**
 * Checks of multiple-choice items before any model runs, each failing with one line that names the item and
 * field: fewer than two choices, repeated choices, `correct` out of range or covering every choice, and prompts
 * the model's context cannot hold.
 */

/** The fields checked (a data-set row or an encoded item's texts). */
export interface CheckedChoiceItem {
  id: string
  choices: readonly string[]
  correct: readonly number[]
}

function refuse(source: string, id: string, field: string, problem: string): TillerError {
  return new TillerError('invalid-dataset', `${source}: item ${id} field "${field}": ${problem}`, {
    subject: `${id}.${field}`,
  })
}

/** Refuse the first item that cannot be scored as multiple choice. */
export function checkChoiceItems(items: readonly CheckedChoiceItem[], source: string): void {
  for (const item of items) {
    if (item.choices.length < 2) {
      throw refuse(source, item.id, 'choices', `has ${item.choices.length} choice(s); give at least two.`)
    }
    const seen = new Map<string, number>()
    item.choices.forEach((choice, index) => {
      const key = choice.trim()
      const earlier = seen.get(key)
      if (earlier !== undefined) {
        throw refuse(
          source,
          item.id,
          'choices',
          `choices ${earlier} and ${index} are the same text ("${key}"); remove the repeat.`,
        )
      }
      seen.set(key, index)
    })
    const outside = item.correct.find(
      (index) => !Number.isInteger(index) || index < 0 || index >= item.choices.length,
    )
    if (outside !== undefined) {
      throw refuse(
        source,
        item.id,
        'correct',
        `index ${outside} is not one of the ${item.choices.length} choices.`,
      )
    }
    if (item.correct.length === 0 || new Set(item.correct).size >= item.choices.length) {
      throw refuse(source, item.id, 'correct', 'needs at least one right and one wrong choice.')
    }
  }
}

/** Refuse the first item whose prompt plus longest choice exceeds `maxLength` tokens. */
export function checkChoiceLengths(
  items: readonly { id: string; prompt: readonly number[]; choices: readonly (readonly number[])[] }[],
  maxLength: number,
  source: string,
): void {
  for (const item of items) {
    const longest = item.prompt.length + Math.max(...item.choices.map((choice) => choice.length))
    if (longest > maxLength) {
      throw new TillerError(
        'prompt-too-long',
        `${source}: item ${item.id} field "question": prompt and longest choice take ${longest} tokens; the model's context holds ${maxLength}. Shorten the item or drop it.`,
        { subject: `${item.id}.question` },
      )
    }
  }
}
