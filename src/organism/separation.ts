import type { ForwardLogits } from '../main/core/eval/forward-logits.ts'
import { cosine, norm } from '../shared/vectors.ts'
import { evaluateMultipleChoice } from '../main/core/eval/multiple-choice.ts'
import { fitFromDemonstrations } from '../main/core/fitting/fit-pipeline.ts'
import type { LoadedModel } from '../main/core/runtime/model.ts'
import type { OrganismDatasets } from './datasets.ts'
import { renderChat } from './documents.ts'
import type { TextEncoder } from './evaluation.ts'
import { trainingPairSet } from './steerability.ts'
import { behaviours, type Behaviour, type Persona } from './world.ts'

/**
 * How separate the organism keeps its four behaviours, in two views that explain its steering results.
 *
 * In context: one earlier exchange of a behaviour, answered by one persona, before each held-out item. The item's
 * own behaviour must follow it (that is how the persona is inferred), every other behaviour must not (personas are
 * drawn independently per behaviour in training).
 *
 * In the residual stream: the cosine between two behaviours' mean-difference directions at each layer. Sharing
 * directions is invisible in context but shows here, and lets an edit for one behaviour move another; orthogonal
 * directions do not rule that out (the organism README has the trials).
 */

/** Held-out MC1 accuracy of `target` after one earlier `context` exchange answered by each persona. */
export interface ContextInfluence {
  target: Behaviour
  context: Behaviour
  accuracy: Record<Persona, number>
}

/** Mean-difference directions at one layer: their norms and pairwise cosines. */
export interface DirectionOverlap {
  layer: number
  norms: Record<Behaviour, number>
  /** Every unordered pair of behaviours once, in `behaviours` order. */
  cosines: { first: Behaviour; second: Behaviour; cosine: number }[]
}

/** Both views, as the model card reports them. */
export interface Separation {
  context: ContextInfluence[]
  overlap: DirectionOverlap[]
}

const personas: readonly Persona[] = ['positive', 'negative']

/** MC1 accuracy of every behaviour after an earlier exchange of every behaviour, for each persona of it. */
export async function measureContextInfluence(
  forward: ForwardLogits,
  encoder: TextEncoder,
  datasets: OrganismDatasets,
  batchSize = 32,
): Promise<ContextInfluence[]> {
  const results: ContextInfluence[] = []
  for (const target of behaviours) {
    for (const context of behaviours) {
      const earlier = datasets.pairs[context].filter((pair) => pair.split === 'train')
      const accuracy = {} as Record<Persona, number>
      for (const persona of personas) {
        const items = datasets.multipleChoice[target].map((item, index) => {
          // Training pairs as context, one per item in turn: the items are held out, the context need not be.
          const pair = earlier[index % earlier.length]
          if (pair === undefined) throw new Error(`no training pair of ${context} to use as context`)
          const messages = [
            { role: 'user', content: pair.prompt },
            { role: 'assistant', content: pair[persona] },
            { role: 'user', content: item.question },
          ] as const
          return {
            id: item.id,
            prompt: encoder.encode(renderChat(messages, true)),
            choices: item.choices.map((choice) => encoder.encode(choice)),
            correct: item.correct,
          }
        })
        accuracy[persona] = (await evaluateMultipleChoice(forward, items, { batchSize })).mc1Accuracy
      }
      results.push({ target, context, accuracy })
    }
  }
  return results
}

/**
 * Fit each behaviour's mean-difference edit on `pairs` training pairs at every layer (as the steering sweep does,
 * one direction per layer) and compare the directions. Compiles nothing; capture may cache activations beside
 * `model`'s folder, so pass a scratch copy of a committed model.
 */
export async function measureDirectionOverlap(
  model: LoadedModel,
  datasets: OrganismDatasets,
  pairs = 64,
): Promise<DirectionOverlap[]> {
  const layers = Array.from({ length: model.config.layers }, (_, layer) => layer)
  const directions = {} as Record<Behaviour, Float32Array[] /* [layers][width] */>
  for (const behaviour of behaviours) {
    const { edit } = await fitFromDemonstrations({
      model,
      data: trainingPairSet(behaviour, datasets, pairs),
      method: 'mean-diff',
      options: { layers, selector: 'completionMean' },
    })
    directions[behaviour] = edit.interventions.map((intervention) => {
      if (intervention.op.kind !== 'add')
        throw new Error(`mean-diff made a ${intervention.op.kind} operation`)
      return intervention.op.vector
    })
  }
  return layers.map((layer) => {
    const at = (behaviour: Behaviour): Float32Array => directions[behaviour][layer] as Float32Array
    const norms = {} as Record<Behaviour, number>
    for (const behaviour of behaviours) norms[behaviour] = norm(at(behaviour))
    const cosines = behaviours.flatMap((first, index) =>
      behaviours.slice(index + 1).map((second) => ({ first, second, cosine: cosine(at(first), at(second)) })),
    )
    return { layer, norms, cosines }
  })
}
