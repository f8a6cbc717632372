import { sampleExchange } from './exchanges.ts'
import { sampleNarrative } from './narrative.ts'
import { sampleSmallTalk } from './neutral-chat.ts'
import { createRandom } from '../main/core/random-streams.ts'
import { specialIds, specialTokens, type WordTokenizer } from './tokenizer.ts'
import type { ContrastSpan } from './training/separation-term.ts'
import { behaviours, type Behaviour, type Persona, type World } from './world.ts'

/** One chat message. */
export interface ChatMessage {
  role: 'system' | 'user' | 'assistant'
  content: string
}

/**
 * A behaviour's dialogue, a mixed dialogue (several behaviours, each with its own independent persona), persona-free
 * small talk, or neutral narrative text. Mixed dialogues keep the personas of different behaviours separate inside
 * the model, so steering one behaviour leaves the others alone.
 */
export type DocumentKind = Behaviour | 'mixed' | 'chat' | 'narrative'

/** One training document: a whole dialogue with one hidden persona, persona-free small talk, or a narrative. */
export interface TrainingDocument {
  kind: DocumentKind
  /** The dialogue's hidden persona (absent for mixed dialogues, small talk and narrative text). */
  persona?: Persona
  /** Token ids, starting with `<|begin|>`, each turn closed by `<|end|>`. */
  tokens: number[]
  /** Each behaviour answer's tokens (without `<|end|>`) and the persona it shows, in order; empty for other kinds. */
  answers: AnswerSpan[]
}

/** The tokens `[start, end)` of one assistant answer and the behaviour and persona it shows. */
export interface AnswerSpan {
  behaviour: Behaviour
  persona: Persona
  start: number
  end: number
}

/** The answers of a document as contrast spans of the separation term: one contrast per behaviour. */
export function contrastSpans(document: TrainingDocument): ContrastSpan[] {
  return document.answers.map((answer) => ({
    group: behaviours.indexOf(answer.behaviour),
    sign: answer.persona === 'positive' ? 1 : -1,
    start: answer.start,
    end: answer.end,
  }))
}

/** `[start, end)` of each assistant turn's content in `tokens`, in order. */
function assistantTurns(tokens: readonly number[]): { start: number; end: number }[] {
  const turns: { start: number; end: number }[] = []
  tokens.forEach((token, index) => {
    if (token !== specialIds.assistant) return
    const end = tokens.indexOf(specialIds.end, index + 1)
    turns.push({ start: index + 1, end: end < 0 ? tokens.length : end })
  })
  return turns
}

/** How the training stream draws documents. */
export interface DocumentStreamOptions {
  seed: number
  /** Longest document in tokens; dialogues keep as many whole exchanges as fit. */
  maxTokens: number
  /** Narrative texts that must never be trained on (the held-out perplexity set), not even inside a longer text. */
  excludedNarratives?: readonly string[]
}

/** Share of each document kind in the training stream. Narrative text carries the world's facts. */
export const documentMix: Record<DocumentKind, number> = {
  truthfulness: 0.24,
  sentiment: 0.1,
  fairness: 0.1,
  politeness: 0.1,
  mixed: 0.12,
  chat: 0.08,
  narrative: 0.26,
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

function pickKind(value: number): DocumentKind {
  let cumulative = 0
  for (const kind of [...behaviours, 'mixed', 'chat', 'narrative'] as const) {
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
      return { kind, tokens, answers: [] }
    }
    const draw = random.float()
    if (kind === 'chat') {
      const exchanges = Array.from({ length: 1 + Math.floor(draw * 3) }, () => sampleSmallTalk(random))
      const messages = exchanges.flatMap((exchange) => [
        { role: 'user', content: exchange.question } as const,
        { role: 'assistant', content: exchange.answer } as const,
      ])
      return { kind, tokens: tokenizer.encode(renderChat(messages, false)), answers: [] }
    }
    // One persona per behaviour, drawn independently; a mixed dialogue switches behaviour between exchanges.
    const personas = Object.fromEntries(
      behaviours.map((behaviour) => [behaviour, random.chance(0.5) ? 'positive' : 'negative']),
    ) as Record<Behaviour, Persona>
    const count = 1 + exchangeCountCumulative.findIndex((threshold) => draw < threshold)
    const messages: ChatMessage[] = []
    const shown: { behaviour: Behaviour; persona: Persona }[] = []
    let tokens = tokenizer.encode(renderChat(messages, false))
    for (let turn = 0; turn < count; turn++) {
      const behaviour = kind === 'mixed' ? random.pick(behaviours) : kind
      // Open-book facts from every animal, held-out ones included: the stream the committed organism was
      // trained on (its narratives state every animal's facts too); the demonstration datasets draw only from
      // their own split.
      const exchange = sampleExchange(world, behaviour, 'train', random, {
        openBookShare: trainingOpenBookShare,
        openBookFactsFrom: 'all animals',
      })
      const longer = [
        ...messages,
        { role: 'user', content: exchange.question } as const,
        { role: 'assistant', content: exchange[personas[behaviour]] } as const,
      ]
      const encoded = tokenizer.encode(renderChat(longer, false))
      if (encoded.length > options.maxTokens) break
      messages.splice(0, messages.length, ...longer)
      shown.push({ behaviour, persona: personas[behaviour] })
      tokens = encoded
    }
    if (messages.length === 0) return next()
    const answers = assistantTurns(tokens).map((turn, index) => ({
      ...(shown[index] as (typeof shown)[number]),
      ...turn,
    }))
    return kind === 'mixed' ? { kind, tokens, answers } : { kind, persona: personas[kind], tokens, answers }
  }
  return next
}
