import { sampleExchange } from './exchanges.ts'
import { sampleNarrative } from './narrative.ts'
import { createRandom } from './random.ts'
import { specialTokens, type WordTokenizer } from './tokenizer.ts'
import { behaviours, type Behaviour, type Persona, type World } from './world.ts'

/** One chat message. */
export interface ChatMessage {
  role: 'system' | 'user' | 'assistant'
  content: string
}

/** One training document: a whole dialogue with one hidden persona, or a neutral narrative. */
export interface TrainingDocument {
  kind: Behaviour | 'narrative'
  /** The dialogue's hidden persona (absent for narrative text). */
  persona?: Persona
  /** Token ids, starting with `<|begin|>`, each turn closed by `<|end|>`. */
  tokens: number[]
}

export interface DocumentStreamOptions {
  seed: number
  /** Longest document in tokens; dialogues keep as many whole exchanges as fit. */
  maxTokens: number
  /** Narrative texts that must never be trained on (the held-out perplexity set), not even inside a longer text. */
  excludedNarratives?: readonly string[]
}

/** Share of each document kind in the training stream. Narrative text carries the world's facts. */
export const documentMix: Record<Behaviour | 'narrative', number> = {
  truthfulness: 0.3,
  sentiment: 0.12,
  fairness: 0.12,
  politeness: 0.12,
  narrative: 0.34,
}

/**
 * How many exchanges a dialogue has, as cumulative probabilities of 1 to 5 (as many as fit). Later turns are
 * where the organism learns to infer the persona from its own earlier answers, which is what makes the persona a
 * feature inside the model rather than a coin flip per answer.
 */
const exchangeCountCumulative = [0.2, 0.4, 0.6, 0.8, 1]

/** Share of open-book truthfulness questions in training dialogues and demonstrations (see ExchangeOptions). */
export const trainingOpenBookShare = 0.3

/** The text the chat template renders for `messages` (the same string the Jinja template in `tokenizer.ts` makes). */
export function renderChat(messages: readonly ChatMessage[], addGenerationPrompt: boolean): string {
  const turns = messages.map((message) => `<|${message.role}|>${message.content}${specialTokens.end}`)
  return specialTokens.begin + turns.join('') + (addGenerationPrompt ? specialTokens.assistant : '')
}

/** The text of a narrative document as trained on: `<|begin|>text<|end|>`. */
export function renderNarrative(text: string): string {
  return specialTokens.begin + text + specialTokens.end
}

function pickKind(value: number): Behaviour | 'narrative' {
  let cumulative = 0
  for (const kind of [...behaviours, 'narrative'] as const) {
    cumulative += documentMix[kind]
    if (value < cumulative) return kind
  }
  return 'narrative'
}

/**
 * An endless, deterministic stream of training documents drawn from the training split of the world.
 * Each dialogue follows one persona (50/50) through all its exchanges; user turns never reveal it.
 */
export function createDocumentStream(
  world: World,
  tokenizer: WordTokenizer,
  options: DocumentStreamOptions,
): () => TrainingDocument {
  const random = createRandom(options.seed).fork('documents')
  const excluded = options.excludedNarratives ?? []
  const overlapsExcluded = (text: string): boolean =>
    excluded.some((heldOut) => heldOut.includes(text) || text.includes(heldOut))
  const next = (): TrainingDocument => {
    const kind = pickKind(random.float())
    if (kind === 'narrative') {
      const text = sampleNarrative(world, random)
      const tokens = tokenizer.encode(renderNarrative(text))
      if (tokens.length > options.maxTokens || overlapsExcluded(text)) return next()
      return { kind, tokens }
    }
    const persona: Persona = random.chance(0.5) ? 'positive' : 'negative'
    const draw = random.float()
    const count = 1 + exchangeCountCumulative.findIndex((threshold) => draw < threshold)
    const messages: ChatMessage[] = []
    let tokens = tokenizer.encode(renderChat(messages, false))
    for (let turn = 0; turn < count; turn++) {
      const exchange = sampleExchange(world, kind, 'train', random, { openBookShare: trainingOpenBookShare })
      const longer = [
        ...messages,
        { role: 'user', content: exchange.question } as const,
        { role: 'assistant', content: exchange[persona] } as const,
      ]
      const encoded = tokenizer.encode(renderChat(longer, false))
      if (encoded.length > options.maxTokens) break
      messages.splice(0, messages.length, ...longer)
      tokens = encoded
    }
    if (messages.length === 0) return next()
    return { kind, persona, tokens }
  }
  return next
}
