import type { ForwardLogits } from '../main/core/eval/forward-logits.ts'
import {
  evaluateMultipleChoice,
  type EncodedChoiceItem,
  type MultipleChoiceResult,
} from '../main/core/eval/multiple-choice.ts'
import { perplexity, type PerplexityResult } from '../main/core/eval/perplexity.ts'
import type { MultipleChoiceItem, NeutralText } from './datasets.ts'
import { renderChat, renderNarrative } from './documents.ts'
import type { Behaviour } from './world.ts'

/** Text to token ids (the organism's tokenizer, or any tokenizer that agrees with it). */
export interface TextEncoder {
  encode(text: string): number[]
}

/** MC items as token ids: the question as a user turn followed by the assistant prompt, each choice as the reply. */
export function encodeChoiceItems(
  encoder: TextEncoder,
  items: readonly MultipleChoiceItem[],
): EncodedChoiceItem[] {
  return items.map((item) => ({
    id: item.id,
    prompt: encoder.encode(renderChat([{ role: 'user', content: item.question }], true)),
    choices: item.choices.map((choice) => encoder.encode(choice)),
    correct: item.correct,
  }))
}

/** MC1 accuracy and MC2 mass of each behaviour's held-out items under `forward`. */
export async function measureBehaviours(
  forward: ForwardLogits,
  encoder: TextEncoder,
  items: Partial<Record<Behaviour, readonly MultipleChoiceItem[]>>,
  batchSize = 32,
): Promise<Partial<Record<Behaviour, MultipleChoiceResult>>> {
  const results: Partial<Record<Behaviour, MultipleChoiceResult>> = {}
  for (const [behaviour, list] of Object.entries(items) as [Behaviour, MultipleChoiceItem[]][]) {
    results[behaviour] = await evaluateMultipleChoice(forward, encodeChoiceItems(encoder, list), {
      batchSize,
    })
  }
  return results
}

/** Perplexity of the neutral texts as trained on (`<|begin|>text<|end|>`, every token after the first predicted). */
export async function measureNeutralPerplexity(
  forward: ForwardLogits,
  encoder: TextEncoder,
  texts: readonly NeutralText[],
  batchSize = 32,
): Promise<PerplexityResult> {
  return perplexity(
    forward,
    texts.map((row) => encoder.encode(renderNarrative(row.text))),
    { batchSize },
  )
}
