import { TillerError } from '../errors.ts'
import { forwardBatch } from '../runtime/forward.ts'
import { logitsAsFloat32 } from '../runtime/logits.ts'
import type { LoadedModel } from '../runtime/model.ts'
import type { ExtraInputs } from '../runtime/step-context.ts'

/**
 * The one thing evaluation needs from a model: logits at every position of a batch of token rows. The base
 * model, a steered graph with its strength and mask inputs, or a training graph all plug in here.
 */

/** Logits of a batch: `[batch, sequence, vocab]` float32, row b's token i at column `leftPadding[b] + i`. */
export interface RowLogits {
  logits: Float32Array
  vocab: number
  sequence: number
  leftPadding: number[]
}

/**
 * Runs rows (token ids, `[batch][length]`, lengths may differ) and returns their logits; `promptLengths` (default
 * each whole row) tells position policies where each row's prompt ends.
 */
export type ForwardLogits = (rows: number[][], promptLengths?: readonly number[]) => Promise<RowLogits>

/**
 * A ForwardLogits over a loaded model's batched prefill. `extraInputs` supplies any extra graph inputs for the
 * rows of a call (e.g. a steered graph's per-row strengths and edit masks).
 */
export function runtimeForward(
  model: LoadedModel,
  extraInputs?: (rows: number[][]) => ExtraInputs,
): ForwardLogits {
  return async (rows, promptLengths) => {
    const result = await forwardBatch(model, rows, {
      fetch: ['logits'],
      ...(promptLengths === undefined ? {} : { promptLengths }),
      ...(extraInputs === undefined ? {} : { extraInputs: extraInputs(rows) }),
    })
    const tensor = result.outputs.logits
    const vocab = tensor?.dims[2]
    if (tensor === undefined || vocab === undefined) {
      throw new TillerError(
        'shape-mismatch',
        `${model.graphPath} returned no [batch, sequence, vocab] logits.`,
      )
    }
    return {
      logits: logitsAsFloat32(tensor),
      vocab,
      sequence: result.sequence,
      leftPadding: result.leftPadding,
    }
  }
}
