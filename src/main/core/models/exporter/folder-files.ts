import type { LlamaConfig, ModelArchitecture, RopeScaling } from '../checkpoint.ts'
import { modelFiles, type GraphFamily } from '../graph-contract.ts'
import type { ExportDType, LinearCompute, OffsetBlocks } from './weights.ts'

/** The attention implementation written into a graph: fused contrib ops (builder) or primitive ops (optimum). */
export type ExportedAttention = 'mha' | 'gqa' | 'onnx' | 'primitive'

/** What Tiller records about how a folder's graph was exported (config.json → "tiller"). */
export interface ExportRecord {
  graphFamily: GraphFamily
  attention: ExportedAttention
  dtype: ExportDType
  /** q4/q8 exports only: what MatMulNBits multiplies in (int8 or float32), absent in float exports. */
  compute?: LinearCompute
  /** q4 exports with int8 compute only: how blocks with offsets were written (4bit fitted or 8bit). */
  offsetBlocks?: OffsetBlocks
}

/** Version of the "tiller" section of config.json; bump when its meaning changes. */
export const exportRecordVersion = 1

/** The graph file, relative to the folder, that Transformers.js loads for a dtype (RUNTIME-NOTES §1.3). */
export function graphFilePath(dtype: ExportDType): string {
  if (dtype === 'q4') return 'onnx/model_q4.onnx'
  if (dtype === 'q8') return 'onnx/model_quantized.onnx'
  return dtype === 'float16' ? modelFiles.graphFloat16 : modelFiles.graph
}

/** The Hugging Face class name prefix of each architecture (`Qwen2ForCausalLM`, ...). */
const modelClassPrefix: Record<ModelArchitecture, string> = {
  llama: 'Llama',
  mistral: 'Mistral',
  qwen2: 'Qwen2',
  qwen3: 'Qwen3',
  phi3: 'Phi3',
  gemma2: 'Gemma2',
  gemma3_text: 'Gemma3',
}

/**
 * Gemma's own config.json fields (Hugging Face Gemma2Config / Gemma3TextConfig names); a record for readers, the
 * graph computes them. Empty for the other families.
 */
function gemmaJson(config: LlamaConfig): Record<string, unknown> {
  if (config.sandwichNorms !== true) return {}
  return {
    hidden_activation: 'gelu_pytorch_tanh',
    query_pre_attn_scalar: config.queryPreAttentionScalar ?? config.headDim,
    attn_logit_softcapping: config.attentionLogitSoftcap ?? null,
    final_logit_softcapping: config.finalLogitSoftcap ?? null,
    sliding_window_pattern: config.slidingWindowPattern ?? null,
    ...(config.localRopeTheta === undefined ? {} : { rope_local_base_freq: config.localRopeTheta }),
  }
}

/**
 * config.json's rope_scaling. The graph holds the scaled RoPE tables, so this is a record for readers; divisors
 * imported from a GGUF have no Hugging Face form and are written as Tiller's own rope_type.
 */
function ropeScalingJson(scaling: RopeScaling | undefined): Record<string, unknown> | null {
  if (scaling === undefined) return null
  if (scaling.type === 'linear') return { rope_type: 'linear', factor: scaling.factor }
  if (scaling.type === 'frequency-factors') {
    return { rope_type: 'tiller_frequency_factors', factors: scaling.factors }
  }
  return {
    rope_type: 'llama3',
    factor: scaling.factor,
    low_freq_factor: scaling.lowFrequencyFactor,
    high_freq_factor: scaling.highFrequencyFactor,
    original_max_position_embeddings: scaling.originalMaxPositionEmbeddings,
  }
}

/** The Transformers.js dtype name of an export dtype (RUNTIME-NOTES §1.3; runtime/graph-path.ts maps it back). */
function transformersDtype(dtype: ExportDType): string {
  return dtype === 'float16' ? 'fp16' : dtype === 'float32' ? 'fp32' : dtype
}

/**
 * config.json in Hugging Face LlamaConfig form, plus the Transformers.js and Tiller sections.
 * @param weightsHash the checkpoint's logical weights hash (weights-hash.ts), recorded as `tiller.weightsHash`
 */
export function configJson(
  config: LlamaConfig,
  record: ExportRecord,
  weightsHash: string,
): Record<string, unknown> {
  const architecture = config.architecture ?? 'llama'
  return {
    architectures: [`${modelClassPrefix[architecture]}ForCausalLM`],
    model_type: architecture,
    vocab_size: config.vocabSize,
    hidden_size: config.hiddenSize,
    intermediate_size: config.intermediateSize,
    num_hidden_layers: config.numLayers,
    num_attention_heads: config.numHeads,
    num_key_value_heads: config.numKeyValueHeads,
    head_dim: config.headDim,
    hidden_act: config.hiddenActivation === 'gelu_tanh' ? 'gelu_pytorch_tanh' : 'silu',
    rms_norm_eps: config.rmsNormEps,
    rope_theta: config.ropeTheta,
    rope_scaling: ropeScalingJson(config.ropeScaling),
    sliding_window: config.slidingWindow ?? null,
    max_position_embeddings: config.maxPositionEmbeddings,
    tie_word_embeddings: config.tieWordEmbeddings,
    attention_bias: config.attentionBias === true,
    mlp_bias: false,
    bos_token_id: config.bosTokenId,
    eos_token_id: config.eosTokenId,
    pad_token_id: config.padTokenId ?? null,
    torch_dtype: record.dtype === 'float16' ? 'float16' : 'float32',
    use_cache: true,
    ...gemmaJson(config),
    'transformers.js_config': {
      use_external_data_format: true,
      dtype: transformersDtype(record.dtype),
      kv_cache_dtype: record.dtype === 'float16' ? 'float16' : 'float32',
    },
    tiller: { formatVersion: exportRecordVersion, ...record, weightsHash },
  }
}

/**
 * The logical weights hash a Tiller export recorded in its config.json (`raw`, parsed), or undefined for folders
 * without one (foreign exports, Tiller exports older than the record).
 */
export function recordedWeightsHash(raw: Record<string, unknown>): string | undefined {
  const section = raw['tiller']
  if (typeof section !== 'object' || section === null) return undefined
  const hash = (section as Record<string, unknown>)['weightsHash']
  return typeof hash === 'string' && /^[0-9a-f]{64}$/.test(hash) ? hash : undefined
}

/**
 * generation_config.json: token ids for generate(); greedy by default. eos_token_id lists the end-of-turn ids after
 * the EOS id when the model has them, as Hugging Face's chat models do; Transformers.js and Tiller's runtime
 * (runtime/model-config.ts) stop at any of them.
 */
export function generationConfigJson(config: LlamaConfig): Record<string, unknown> {
  const endOfTurn = config.endOfTurnTokenIds ?? []
  return {
    bos_token_id: config.bosTokenId,
    eos_token_id: endOfTurn.length > 0 ? [config.eosTokenId, ...endOfTurn] : config.eosTokenId,
    ...(config.padTokenId === undefined ? {} : { pad_token_id: config.padTokenId }),
    do_sample: false,
  }
}
