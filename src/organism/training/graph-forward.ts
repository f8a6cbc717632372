import type { LlamaConfig } from '../../main/core/models/checkpoint.ts'
import type { ForwardLogits } from '../../main/core/eval/forward-logits.ts'
import { specialIds } from '../tokenizer.ts'
import { packBatch } from './batches.ts'
import type { Parameters } from './parameters.ts'
import { createStepRunner } from './step-runner.ts'

/** A ForwardLogits over in-training weights, plus a way to free its session. */
export interface GraphForward {
  forward: ForwardLogits
  release(): Promise<void>
}

/**
 * Evaluate weights that are still in training (before any export) with Tiller's evaluation functions: a
 * forward-only graph with the training graph's structure, `batch` rows of `sequence` tokens per call (rows
 * right padded, so `leftPadding` is 0). `parameters` are read at every call, so it follows the training.
 */
export async function createGraphForward(
  config: LlamaConfig,
  parameters: Parameters,
  batch: number,
  sequence: number,
  threads = 2,
): Promise<GraphForward> {
  const runner = await createStepRunner(
    { config, batch, sequence, floatType: 'float32', outputLogits: true, backward: false },
    threads,
  )
  const forward: ForwardLogits = async (rows) => {
    if (rows.length > batch) throw new RangeError(`at most ${batch} rows per call; got ${rows.length}`)
    // Filler rows keep the batch full; at least two tokens each so the loss has something to predict.
    const filled = [
      ...rows,
      ...Array.from({ length: batch - rows.length }, () => [specialIds.begin, specialIds.end]),
    ]
    const { batch: packed } = packBatch(filled, config, batch, sequence, 'float32', { onePerRow: true })
    const result = await runner.run(parameters, packed)
    if (result.logits === undefined) throw new Error('the forward graph returned no logits')
    return {
      logits: result.logits as Float32Array,
      vocab: config.vocabSize,
      sequence,
      leftPadding: rows.map(() => 0),
    }
  }
  return { forward, release: () => runner.release() }
}
