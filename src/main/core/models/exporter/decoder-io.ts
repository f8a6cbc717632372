import type { GraphBuilder } from '../../onnx/builder.ts'
import type { LlamaConfig } from '../checkpoint.ts'
import { graphInputs, graphOutputs, pastName, presentName } from '../graph-contract.ts'
import type { Constants } from './constants.ts'
import type { FloatType } from './weights.ts'

/**
 * The graph contract's inputs and outputs (graph-contract.ts). Symbolic dims use the names Transformers.js
 * resolves when it creates an empty cache: only `batch_size` is filled in, every other symbolic dim becomes 0,
 * so kv heads and head dim must be fixed numbers.
 */

/** Names of the three token-level inputs. */
export interface DecoderInputs {
  /** int64 `[batch, sequence]` */
  inputIds: string
  /** int64 `[batch, past + sequence]`, 1 for real tokens, 0 for left padding */
  attentionMask: string
  /** int64 `[batch, sequence]`, counting real tokens from 0 */
  positionIds: string
  /** int64 scalar: 0 = logits for every position, k > 0 = for the last k (prefill needs only the last) */
  logitsToKeep: string
}

const batch = 'batch_size'
const sequence = 'sequence_length'
const total = 'total_sequence_length'
const past = 'past_sequence_length'
const kept = 'kept_sequence_length'

/** Declare input_ids, attention_mask, position_ids and every past_key_values input. */
export function declareDecoderInputs(
  graph: GraphBuilder,
  config: LlamaConfig,
  floatType: FloatType,
): DecoderInputs {
  const inputs: DecoderInputs = {
    inputIds: graph.input(graphInputs.inputIds, 'int64', [batch, sequence]),
    attentionMask: graph.input(graphInputs.attentionMask, 'int64', [batch, total]),
    positionIds: graph.input(graphInputs.positionIds, 'int64', [batch, sequence]),
    logitsToKeep: graph.input(graphInputs.logitsToKeep, 'int64', []),
  }
  for (let layer = 0; layer < config.numLayers; layer++) {
    for (const kind of ['key', 'value'] as const) {
      graph.input(pastName(layer, kind), floatType, [batch, config.numKeyValueHeads, past, config.headDim])
    }
  }
  return inputs
}

/** Declare logits and every present output (the tensors themselves are produced by the family's layers). */
export function declareDecoderOutputs(graph: GraphBuilder, config: LlamaConfig, floatType: FloatType): void {
  graph.output(graphOutputs.logits, floatType, [batch, kept, config.vocabSize])
  for (let layer = 0; layer < config.numLayers; layer++) {
    for (const kind of ['key', 'value'] as const) {
      graph.output(presentName(layer, kind), floatType, [
        batch,
        config.numKeyValueHeads,
        total,
        config.headDim,
      ])
    }
  }
}

/**
 * The positions of `hidden` `[batch, sequence, width]` whose logits the graph computes: the last
 * `num_logits_to_keep` of them, or all for 0 (Slice from −k; −0 is the start). At prefill the output projection,
 * the largest matrix of a small model, then runs on one position instead of the whole prompt.
 */
export function keptPositions(
  graph: GraphBuilder,
  constants: Constants,
  inputs: DecoderInputs,
  hidden: string,
): string {
  const scope = '/lm_head/keep'
  const negated = graph.node1({ op: 'Neg', name: `${scope}/Neg`, inputs: [inputs.logitsToKeep] })
  const starts = graph.node1({
    op: 'Unsqueeze',
    name: `${scope}/Unsqueeze`,
    inputs: [negated, constants.int64([0])],
  })
  // Slice clamps `ends` to the sequence length.
  const ends = constants.int64([Number.MAX_SAFE_INTEGER])
  return graph.node1({
    op: 'Slice',
    name: `${scope}/Slice`,
    inputs: [hidden, starts, ends, constants.int64([1])],
  })
}
