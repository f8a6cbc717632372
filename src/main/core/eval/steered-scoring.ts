import { steeringInputs, type SteeredModel } from '../edits/steered-generation.ts'
import { TillerError } from '../errors.ts'
import type { LoadedModel } from '../runtime/model.ts'
import { cachedChoiceScorer } from './cached-choice-scorer.ts'
import type { ChoiceScorer, StrengthForward } from './choice-scorer.ts'
import { runtimeForward } from './forward-logits.ts'

/**
 * Strength-aware forwards and scorers over a loaded model: a steered model takes any strength per row (its
 * compiled graph's `tiller_strength [batch]`), the plain model only strength 0.
 */

/** Rows of a steered model, each at its own strength; answer-only policies start at each row's assistant start. */
export function steeredForward(steered: SteeredModel): StrengthForward {
  return (rows, strengths, assistantStarts) =>
    runtimeForward(steered.model, () => steeringInputs(steered.compiled, strengths, { assistantStarts }))(
      rows,
    )
}

/** A steered model's choice scorer, reusing each prompt's cache across choices and strengths. */
export function steeredChoiceScorer(steered: SteeredModel): ChoiceScorer {
  return cachedChoiceScorer(steered.model, (strengths, assistantStart) =>
    steeringInputs(steered.compiled, strengths, { assistantStarts: strengths.map(() => assistantStart) }),
  )
}

function baseOnly(strengths: readonly number[]): void {
  if (strengths.some((strength) => strength !== 0)) {
    throw new TillerError('invalid-argument', 'Strengths other than 0 need an edit; pass --edit FILE.', {
      subject: 'strengths',
    })
  }
}

/** The unedited model as a strength forward (strength 0 only). */
export function plainForward(model: LoadedModel): StrengthForward {
  const forward = runtimeForward(model)
  return (rows, strengths) => {
    baseOnly(strengths)
    return forward(rows)
  }
}

/** The unedited model's choice scorer (strength 0 only). */
export function plainChoiceScorer(model: LoadedModel): ChoiceScorer {
  const scorer = cachedChoiceScorer(model)
  return (items, strengths) => {
    baseOnly(strengths)
    return scorer(items, strengths)
  }
}
