import { splitByIdHash, validationTestHalves } from '../main/core/data/id-split.ts'
import { trainingOpenBookShare } from './documents.ts'
import { sampleExchange, type Exchange, type ExchangeOptions } from './exchanges.ts'
import { sampleNarrative } from './narrative.ts'
import { createRandom, type Random } from '../main/core/random-streams.ts'
import { behaviours, type Behaviour, type World } from './world.ts'

/** A demonstration pair in Tiller's dataset format (DESIGN §5). */
export interface DemonstrationPair {
  id: string
  prompt: string
  positive: string
  negative: string
  split: 'train' | 'test'
}

/**
 * A multiple-choice evaluation item in Tiller's dataset format; `correct` lists the indices of right choices.
 * `validation` items are for choosing layers, strengths and K; `test` items only for reporting.
 */
export interface MultipleChoiceItem {
  id: string
  question: string
  choices: string[]
  correct: number[]
  split: 'validation' | 'test'
}

/** A neutral narrative text for perplexity, never trained on. */
export interface NeutralText {
  id: string
  text: string
  split: 'validation' | 'test'
}

/** Everything the world generator writes under resources/datasets/. */
export interface OrganismDatasets {
  pairs: Record<Behaviour, DemonstrationPair[]>
  multipleChoice: Record<Behaviour, MultipleChoiceItem[]>
  neutral: NeutralText[]
}

/** How many items of each kind the generator writes. */
export const datasetSizes = {
  trainPairs: 128,
  testPairs: 48,
  multipleChoice: 120,
  neutralValidation: 100,
  neutralTest: 200,
} as const

/** Draw up to `count` exchanges with distinct texts; stops early when the split has fewer distinct ones. */
function distinctExchanges(
  world: World,
  behaviour: Behaviour,
  split: 'train' | 'test',
  count: number,
  random: Random,
  options: ExchangeOptions,
): Exchange[] {
  const seen = new Set<string>()
  const result: Exchange[] = []
  for (let attempt = 0; attempt < count * 50 && result.length < count; attempt++) {
    const exchange = sampleExchange(world, behaviour, split, random, options)
    const key = [exchange.question, exchange.positive, exchange.negative].join('\n')
    if (seen.has(key)) continue
    seen.add(key)
    result.push(exchange)
  }
  return result
}

function multipleChoice(exchange: Exchange, id: string, random: Random): Omit<MultipleChoiceItem, 'split'> {
  const choices = random.shuffled([exchange.positive, exchange.negative, ...exchange.distractors])
  return { id, question: exchange.question, choices, correct: [choices.indexOf(exchange.positive)] }
}

/**
 * All evaluation and demonstration data of the world: minimal pairs from training subjects (`train`) and held-out
 * ones (`test`); multiple-choice items on held-out subjects only, closed-book, with each choice phrased
 * independently, half for validation (choosing settings) and half for test (reporting); and held-out neutral texts.
 */
export function buildDatasets(world: World): OrganismDatasets {
  const random = createRandom(world.seed).fork('datasets')
  const pairs = {} as Record<Behaviour, DemonstrationPair[]>
  const multipleChoiceItems = {} as Record<Behaviour, MultipleChoiceItem[]>
  for (const behaviour of behaviours) {
    const toPairs = (split: 'train' | 'test', count: number): DemonstrationPair[] =>
      distinctExchanges(world, behaviour, split, count, random.fork(`${behaviour}-pairs-${split}`), {
        openBookShare: trainingOpenBookShare,
      }).map((exchange, row) => ({
        id: `${behaviour}-${split}-${String(row).padStart(4, '0')}`,
        prompt: exchange.question,
        positive: exchange.positive,
        negative: exchange.negative,
        split,
      }))
    pairs[behaviour] = [
      ...toPairs('train', datasetSizes.trainPairs),
      ...toPairs('test', datasetSizes.testPairs),
    ]
    const choiceRandom = random.fork(`${behaviour}-mc`)
    // Half validation, half test, by the sha256 of the id.
    multipleChoiceItems[behaviour] = splitByIdHash(
      distinctExchanges(world, behaviour, 'test', datasetSizes.multipleChoice, choiceRandom, {
        differentForms: true,
      }).map((exchange, row) =>
        multipleChoice(exchange, `${behaviour}-mc-${String(row).padStart(4, '0')}`, choiceRandom),
      ),
      validationTestHalves,
    ) as MultipleChoiceItem[]
  }
  const neutralRandom = random.fork('neutral')
  const texts = new Set<string>()
  const total = datasetSizes.neutralValidation + datasetSizes.neutralTest
  while (texts.size < total) texts.add(sampleNarrative(world, neutralRandom))
  const neutral = [...texts].map((text, row) => ({
    id: `neutral-${String(row).padStart(4, '0')}`,
    text,
    split: row < datasetSizes.neutralValidation ? ('validation' as const) : ('test' as const),
  }))
  return { pairs, multipleChoice: multipleChoiceItems, neutral }
}

/** The dataset files, by file name relative to `resources/datasets/`, as JSONL text. */
export function datasetFiles(datasets: OrganismDatasets): Map<string, string> {
  const toJsonl = (rows: readonly object[]): string =>
    rows.map((row) => JSON.stringify(row)).join('\n') + '\n'
  const files = new Map<string, string>()
  for (const behaviour of behaviours) {
    files.set(`${behaviour}.pairs.jsonl`, toJsonl(datasets.pairs[behaviour]))
    files.set(`${behaviour}.mc.jsonl`, toJsonl(datasets.multipleChoice[behaviour]))
  }
  files.set('neutral.jsonl', toJsonl(datasets.neutral))
  return files
}
