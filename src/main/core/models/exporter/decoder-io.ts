import type { GraphBuilder } from '../../onnx/builder.ts'
import type { LlamaConfig } from '../checkpoint.ts'
import { graphInputs, graphOutputs, pastName, presentName } from '../graph-contract.ts'
import type { ExportDType } from './weights.ts'

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
}

const batch = 'batch_size'
const sequence = 'sequence_length'
const total = 'total_sequence_length'
const past = 'past_sequence_length'

/** Declare input_ids, attention_mask, position_ids and every past_key_values input. */
export function declareDecoderInputs(
  graph: GraphBuilder,
  config: LlamaConfig,
  floatType: ExportDType,
): DecoderInputs {
  const inputs: DecoderInputs = {
    inputIds: graph.input(graphInputs.inputIds, 'int64', [batch, sequence]),
    attentionMask: graph.input(graphInputs.attentionMask, 'int64', [batch, total]),
    positionIds: graph.input(graphInputs.positionIds, 'int64', [batch, sequence]),
  }
  for (let layer = 0; layer < config.numLayers; layer++) {
    for (const kind of ['key', 'value'] as const) {
      graph.input(pastName(layer, kind), floatType, [batch, config.numKeyValueHeads, past, config.headDim])
    }
  }
  return inputs
}

/** Declare logits and every present output (the tensors themselves are produced by the family's layers). */
export function declareDecoderOutputs(
  graph: GraphBuilder,
  config: LlamaConfig,
  floatType: ExportDType,
): void {
  graph.output(graphOutputs.logits, floatType, [batch, sequence, config.vocabSize])
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
