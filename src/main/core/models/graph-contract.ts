/**
 * The input/output contract every decoder graph Tiller runs must meet, whichever family exported it.
 *
 * Inputs:
 *   input_ids                     int64   [batch, sequence]
 *   attention_mask                int64   [batch, past + sequence]    1 for real tokens, 0 for left padding
 *   position_ids                  int64   [batch, sequence]           optional in foreign graphs; Tiller's exports have it
 *   past_key_values.{l}.key       float32|float16 [batch, kvHeads, past, headDim]
 *   past_key_values.{l}.value     float32|float16 [batch, kvHeads, past, headDim]
 *   num_logits_to_keep            int64   []                          optional: 0 = logits at every position,
 *                                                                     k > 0 = the last k (Tiller's exports have it)
 * Outputs:
 *   logits                        float32|float16 [batch, kept, vocab] kept = sequence, or num_logits_to_keep
 *   present.{l}.key / .value      same dtype as the cache [batch, kvHeads, past + sequence, headDim]
 *
 * Rows are left padded: row b's real tokens sit at the right end, and its position ids count real tokens only
 * (the first real token has position 0). A padded row's logits at real positions equal an unpadded one-row run.
 */
export const graphInputs = {
  inputIds: 'input_ids',
  attentionMask: 'attention_mask',
  positionIds: 'position_ids',
  logitsToKeep: 'num_logits_to_keep',
} as const

export const graphOutputs = {
  logits: 'logits',
} as const

/** Name of the past key or value input of decoder block `layer` (0-based). */
export function pastName(layer: number, kind: 'key' | 'value'): string {
  return `past_key_values.${layer}.${kind}`
}

/** Name of the present key or value output of decoder block `layer` (0-based). */
export function presentName(layer: number, kind: 'key' | 'value'): string {
  return `present.${layer}.${kind}`
}

/** The two graph families Tiller exports and recognises (RUNTIME-NOTES §2.1). */
export type GraphFamily = 'builder' | 'optimum'

/** Files of a model folder, relative to its root (the Transformers.js layout). */
export const modelFiles = {
  config: 'config.json',
  generationConfig: 'generation_config.json',
  tokenizer: 'tokenizer.json',
  tokenizerConfig: 'tokenizer_config.json',
  graph: 'onnx/model.onnx',
  graphData: 'onnx/model.onnx_data',
  /** The float16 export (Transformers.js dtype 'fp16'); config.json's transformers.js_config.dtype selects it. */
  graphFloat16: 'onnx/model_fp16.onnx',
  graphFloat16Data: 'onnx/model_fp16.onnx_data',
} as const
