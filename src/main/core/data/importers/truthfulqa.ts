import { readFile } from 'node:fs/promises'
import { TillerError } from '../../errors.ts'
import { splitByIdHash, trainValidationTest } from '../id-split.ts'
import type { ChoiceRow, DemonstrationSet } from '../schema.ts'
import { pairsFromChoiceRows, type NegativeChoice } from './choice-pairs.ts'
import { parseCsv } from './csv.ts'

/**
 * TruthfulQA's CSV (columns Type, Category, Question, Best Answer, Correct Answers, Incorrect Answers, Source;
 * answers in a cell separated by ";") to multiple-choice items and demonstration pairs (METHODS §9.1):
 *   mc1    question + Best Answer (right) vs every Incorrect Answer
 *   mc2    all Correct Answers (right) vs all Incorrect Answers
 *   pairs  Best Answer (positive) vs each Incorrect Answer, or the first one
 * Answers are trimmed and end with a period, as TruthfulQA's own scripts close them; an answer repeated within a
 * question is kept once (the first, right answers first). Every question gets a split by the sha256 of its id —
 * 40 % train, 10 % validation, 50 % test (HPR) — the same for its MC items and its pairs, so pairs fitted on
 * `train` never share a question with validation or test items. Ids are `truthfulqa-<row>`, tags the Type and
 * Category.
 */

/** What to build from the CSV. */
export type TruthfulQaTarget = 'mc1' | 'mc2' | 'pairs'

const columns = [
  'Type',
  'Category',
  'Question',
  'Best Answer',
  'Correct Answers',
  'Incorrect Answers',
] as const

function invalid(source: string, problem: string): TillerError {
  return new TillerError('invalid-dataset', `${source}: ${problem}`, { subject: source })
}

function closeAnswer(answer: string): string {
  const trimmed = answer.trim()
  return trimmed === '' || trimmed.endsWith('.') ? trimmed : `${trimmed}.`
}

function splitAnswers(cell: string): string[] {
  return cell
    .split(';')
    .map(closeAnswer)
    .filter((answer) => answer !== '')
}

/** One question's answers, each answer once. */
interface Question {
  id: string
  line: number
  question: string
  best: string
  correct: string[]
  incorrect: string[]
  tags: string[]
}

function readQuestions(text: string, source: string): Question[] {
  const { rows, unterminatedQuoteLine } = parseCsv(text)
  if (unterminatedQuoteLine !== undefined)
    throw invalid(source, `line ${unterminatedQuoteLine}: a quoted field never closes.`)
  const header = rows[0]?.fields.map((field) => field.trim()) ?? []
  const at = columns.map((column) => header.indexOf(column))
  const missing = columns.filter((_, index) => (at[index] as number) < 0)
  if (missing.length > 0)
    throw invalid(
      source,
      `line 1: the header lacks column(s) ${missing.map((name) => `"${name}"`).join(', ')}.`,
    )
  const cell = (fields: string[], column: number): string => fields[at[column] as number] ?? ''
  return rows.slice(1).flatMap((row, index) => {
    if (row.fields.every((field) => field.trim() === '')) return []
    const question = cell(row.fields, 2).trim()
    const best = closeAnswer(cell(row.fields, 3))
    const field = question === '' ? 'Question' : best === '' ? 'Best Answer' : undefined
    if (field !== undefined) throw invalid(source, `line ${row.line}: column "${field}" is empty.`)
    const seen = new Set<string>([best])
    const once = (answers: string[]): string[] =>
      answers.filter((answer) => !seen.has(answer) && (seen.add(answer), true))
    const correct = [best, ...once(splitAnswers(cell(row.fields, 4)))]
    const incorrect = once(splitAnswers(cell(row.fields, 5)))
    if (incorrect.length === 0)
      throw invalid(
        source,
        `line ${row.line}: column "Incorrect Answers" holds no answer other than a right one.`,
      )
    const tags = [cell(row.fields, 0).trim(), cell(row.fields, 1).trim()].filter((tag) => tag !== '')
    return [
      {
        id: `truthfulqa-${String(index + 1).padStart(4, '0')}`,
        line: row.line,
        question,
        best,
        correct,
        incorrect,
        tags,
      },
    ]
  })
}

/** Convert TruthfulQA CSV text to `target` (`negatives` chooses the pairs' wrong answers, default each). */
export function convertTruthfulQa(
  text: string,
  source: string,
  target: TruthfulQaTarget,
  negatives: NegativeChoice = 'each',
): DemonstrationSet {
  const questions = splitByIdHash(readQuestions(text, source), trainValidationTest)
  if (questions.length === 0) throw invalid(source, 'holds no questions below the header.')
  const items: ChoiceRow[] = questions.map((entry) => {
    const choices =
      target === 'mc2' ? [...entry.correct, ...entry.incorrect] : [entry.best, ...entry.incorrect]
    const right = target === 'mc2' ? entry.correct.length : 1
    return {
      id: entry.id,
      line: entry.line,
      question: entry.question,
      choices,
      correct: Array.from({ length: right }, (_, index) => index),
      split: entry.split,
      tags: entry.tags,
    }
  })
  if (target === 'pairs') return { kind: 'pairs', source, rows: pairsFromChoiceRows(items, negatives) }
  return { kind: 'choices', source, rows: items }
}

/** Read a TruthfulQA CSV file and convert it. */
export async function importTruthfulQa(
  path: string,
  target: TruthfulQaTarget,
  negatives: NegativeChoice = 'each',
): Promise<DemonstrationSet> {
  let text: string
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(await readFile(path))
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT')
      throw new TillerError('file-not-found', `Cannot read ${path}: no such file.`, { subject: path })
    throw invalid(path, `cannot be read as UTF-8 text (${(error as Error).message}).`)
  }
  return convertTruthfulQa(text, path, target, negatives)
}
