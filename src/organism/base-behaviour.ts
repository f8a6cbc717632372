import { runtimeForward } from '../main/core/eval/forward-logits.ts'
import type { PerplexityResult } from '../main/core/eval/perplexity.ts'
import { generate } from '../main/core/runtime/generate.ts'
import type { LoadedModel } from '../main/core/runtime/model.ts'
import { judgeAnswer } from './answer-judge.ts'
import type { MultipleChoiceItem, OrganismDatasets } from './datasets.ts'
import { renderChat } from './documents.ts'
import { measureBehaviours, measureNeutralPerplexity } from './evaluation.ts'
import type { WordTokenizer } from './tokenizer.ts'
import { behaviours, type Behaviour, type World } from './world.ts'

/** How generated answers split between the personas. */
export interface AnswerSplit {
  positive: number
  negative: number
  /** Well formed, but neither persona's answer (e.g. a wrong value other than the deceptive one). */
  neither: number
  malformed: number
  total: number
}

/** One behaviour of the base model, measured on its held-out items. */
export interface BehaviourMeasurement {
  items: number
  /** MC1 accuracy: the positive persona's answer scores highest. */
  accuracy: number
  /** Mean probability mass on the positive answer among the choices. */
  positiveMass: number
  greedy: AnswerSplit
  sampled: AnswerSplit
  /** A few held-out questions with the greedy answer. */
  examples: { question: string; answer: string }[]
}

/** The base organism's measured behaviours and neutral perplexity. */
export interface BaseMeasurement {
  behaviours: Record<Behaviour, BehaviourMeasurement>
  neutral: PerplexityResult
}

/** How much generation `measureBaseModel` does. */
export interface BaseMeasurementOptions {
  /** Held-out questions per behaviour used for generation (default 40). */
  questions?: number
  /** Samples per question at temperature 1 (default 5). */
  samples?: number
  seed?: number
}

function emptySplit(): AnswerSplit {
  return { positive: 0, negative: 0, neither: 0, malformed: 0, total: 0 }
}

async function answerSplit(
  model: LoadedModel,
  world: World,
  behaviour: Behaviour,
  tokenizer: WordTokenizer,
  questions: readonly string[],
  temperature: number,
  samples: number,
  seed: number,
): Promise<{ split: AnswerSplit; answers: string[] }> {
  const split = emptySplit()
  const answers: string[] = []
  const rows = questions.flatMap((question) =>
    Array.from({ length: samples }, () =>
      tokenizer.encode(renderChat([{ role: 'user', content: question }], true)),
    ),
  )
  for (let start = 0; start < rows.length; start += 32) {
    const results = await generate(model, {
      rows: rows.slice(start, start + 32),
      options: { maxTokens: 40, temperature, seed: seed + start },
    })
    results.forEach((result, offset) => {
      const question = questions[Math.floor((start + offset) / samples)] as string
      const judgement = judgeAnswer(world, behaviour, question, result.text)
      answers.push(result.text)
      split.total++
      if (!judgement.wellFormed) split.malformed++
      else if (judgement.persona === 'positive') split.positive++
      else if (judgement.persona === 'negative') split.negative++
      else split.neither++
    })
  }
  return { split, answers }
}

/**
 * Measure the base organism through Tiller's runtime: held-out MC accuracy per behaviour, perplexity on held-out
 * neutral text, and how greedy and sampled (temperature 1) answers split between the personas.
 */
export async function measureBaseModel(
  model: LoadedModel,
  world: World,
  datasets: OrganismDatasets,
  tokenizer: WordTokenizer,
  options: BaseMeasurementOptions = {},
): Promise<BaseMeasurement> {
  const forward = runtimeForward(model)
  const questionCount = options.questions ?? 40
  const samples = options.samples ?? 5
  const seed = options.seed ?? 1
  const choices = await measureBehaviours(forward, tokenizer, datasets.multipleChoice)
  const measured = {} as Record<Behaviour, BehaviourMeasurement>
  for (const behaviour of behaviours) {
    const items: readonly MultipleChoiceItem[] = datasets.multipleChoice[behaviour]
    const questions = [...new Set(items.map((item) => item.question))].slice(0, questionCount)
    const greedy = await answerSplit(model, world, behaviour, tokenizer, questions, 0, 1, seed)
    const sampled = await answerSplit(model, world, behaviour, tokenizer, questions, 1, samples, seed)
    const result = choices[behaviour]
    measured[behaviour] = {
      items: items.length,
      accuracy: result?.mc1Accuracy ?? Number.NaN,
      positiveMass: result?.mc2Mean ?? Number.NaN,
      greedy: greedy.split,
      sampled: sampled.split,
      examples: questions
        .slice(0, 3)
        .map((question, index) => ({ question, answer: greedy.answers[index] ?? '' })),
    }
  }
  const neutral = await measureNeutralPerplexity(
    forward,
    tokenizer,
    datasets.neutral.filter((row) => row.split === 'test'),
  )
  return { behaviours: measured, neutral }
}
