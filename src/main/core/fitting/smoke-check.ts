/**
 * The smoke check every fit ends with: the fitted edit is compiled and one rendered demonstration runs through it
 * at the strengths a user will reach for. An edit that gives non-finite logits there (an exploding scale, a
 * degenerate projection) is refused before it is written, instead of surfacing later as NaN sampling.
 */
import type { Edit } from '../../../shared/edit.ts'
import type { ExecutionProviderChoice } from '../../../shared/engine-status.ts'
import { recordPatchValues } from '../edits/patch-values.ts'
import { loadSteeredModel, steeringInputs } from '../edits/steered-generation.ts'
import { TillerError } from '../errors.ts'
import { halfPromptLength } from '../edits/positions.ts'
import { runtimeForward } from '../eval/forward-logits.ts'
import type { ExtraInputs } from '../runtime/step-context.ts'

/** What to run: one token row and the strengths to try, each as its own row of one batch. */
export interface SmokeCheckRequest {
  folder: string
  edit: Edit
  tokens: readonly number[]
  strengths: readonly number[]
  provider?: ExecutionProviderChoice
  /** The graph to steer, relative to the folder (a variant's); default the folder's decoder graph. */
  graphFile?: string
}

/**
 * Run `tokens` at every strength in one batch and refuse the edit if any logit is NaN or infinite.
 * The row's second half counts as generated tokens, so edits restricted to generated positions are exercised too.
 */
export async function smokeCheckEdit(request: SmokeCheckRequest): Promise<void> {
  const steered = await loadSteeredModel(request.folder, [request.edit], {
    provider: request.provider,
    graphFile: request.graphFile,
  })
  try {
    const halved =
      (inputs: ExtraInputs): ExtraInputs =>
      (step) =>
        inputs({
          ...step,
          promptLengths: step.promptLengths.map(halfPromptLength),
        })
    const rows = request.strengths.map(() => [...request.tokens])
    // A patch-mode edit (SADI mode=patch) needs the clean values of a strength-0 pass first.
    const patch = await recordPatchValues(
      steered.model,
      steered.compiled,
      rows,
      halved(
        steeringInputs(
          steered.compiled,
          request.strengths.map(() => 0),
        ),
      ),
    )
    const inputs = halved(steeringInputs(steered.compiled, request.strengths, {}, undefined, patch))
    const forward = runtimeForward(steered.model, () => inputs)
    const { logits, vocab, sequence } = await forward(rows) // logits [rows, sequence, vocab]
    request.strengths.forEach((strength, row) => {
      const start = row * sequence * vocab
      const values = logits.subarray(start, start + sequence * vocab)
      const bad = values.findIndex((value) => !Number.isFinite(value))
      if (bad >= 0) {
        throw new TillerError(
          'unrepresentable-edit',
          `The fitted ${request.edit.method} edit gives non-finite logits at strength ${strength} (position ` +
            `${Math.floor(bad / vocab)} of a demonstration); it was not saved. Check the demonstrations for ` +
            'outliers or choose gentler options (fewer layers, a smaller scale).',
          { subject: 'strength' },
        )
      }
    })
  } finally {
    await steered.model.dispose()
  }
}
