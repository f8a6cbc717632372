import { recordPatchValues } from '../edits/patch-values.ts'
import { preparedSteeringInputs, steeringInputs, type SteeredModel } from '../edits/steered-generation.ts'
import { TillerError } from '../errors.ts'
import type { LoadedModel } from '../runtime/model.ts'
import { cachedChoiceScorer } from './cached-choice-scorer.ts'
import { checkEncodedItems, type ChoiceScorer, type StrengthForward } from './choice-scorer.ts'
import { runtimeForward } from './forward-logits.ts'

/**
 * Strength-aware forwards and scorers over a loaded model: a steered model takes any strength per row (its
 * compiled graph's `tiller_strength [batch]`), the plain model only strength 0. A patch-mode graph (SADI
 * mode=patch) first records its clean values with a strength-0 pass over the same prompts (edits/patch-values.ts).
 */

/**
 * Rows of a steered model, each at its own strength; answer-only policies start at each row's assistant start and
 * last-prompt-token policies act at each row's `promptLengths` (default its last token).
 */
export function steeredForward(steered: SteeredModel): StrengthForward {
  return async (rows, strengths, assistantStarts, promptLengths) => {
    const inputs = await preparedSteeringInputs(
      steered,
      rows,
      strengths,
      { assistantStarts },
      undefined,
      promptLengths,
    )
    return runtimeForward(steered.model, () => inputs)(rows, promptLengths)
  }
}

/** A steered model's choice scorer, reusing each prompt's cache across choices and strengths. */
export function steeredChoiceScorer(steered: SteeredModel): ChoiceScorer {
  const { model, compiled } = steered
  const inputsFor = (strengths: readonly number[], assistantStart: number) =>
    steeringInputs(compiled, strengths, { assistantStarts: strengths.map(() => assistantStart) })
  if (compiled.patchInputs.length === 0) return cachedChoiceScorer(model, inputsFor)
  // Patch mode: per item, record the prompt's clean values (one row per strength, as its prefill feeds them);
  // the choice pass is past the last prompt token and patches nothing.
  return async (items, strengths) => {
    checkEncodedItems(items)
    const scores: number[][][] = []
    for (const item of items) {
      const prompts = strengths.map(() => item.prompt)
      const recorded = await recordPatchValues(
        model,
        compiled,
        prompts,
        inputsFor(
          strengths.map(() => 0),
          item.prompt.length,
        ),
      )
      const scorer = cachedChoiceScorer(model, (rowStrengths, assistantStart) =>
        steeringInputs(
          compiled,
          rowStrengths,
          { assistantStarts: rowStrengths.map(() => assistantStart) },
          undefined,
          recorded,
        ),
      )
      scores.push(...(await scorer([item], strengths)))
    }
    return scores
  }
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
