import { GGMLQuantizationType } from '@huggingface/gguf'

import type { LlamaCheckpoint, LlamaConfig } from '../../../src/main/core/models/checkpoint.ts'
import type { GgufContent, GgufMetadataValue, GgufTensorInput } from '../../../src/main/core/gguf/writer.ts'
import { halfSplitToInterleavedRows } from '../../../src/main/core/models/importers/rope-permutation.ts'
import { tinyVocabulary } from './gguf-model.ts'
import { quantizers } from './quantize.ts'

/**
 * Tiny test models of every family in GGUF form, written as llama.cpp's convert_hf_to_gguf.py writes them:
 * `<arch>.*` metadata keys, per-architecture tensor names, q/k rows interleaved for llama only (NORM rope type;
 * qwen2/qwen3/phi3 are NEOX and keep Hugging Face rows), phi3's fused attn_qkv and gate-then-up ffn_up, and
 * Llama 3.1's llama3 scaling as rope_freqs.weight divisors, Gemma's four norms per layer (post_attention_norm,
 * ffn_norm before the MLP, post_ffw_norm) and soft-capping keys. Gemma norm weights are written as the checkpoint
 * holds them, the multiplier 1 + w that llama.cpp's converter stores.
 */

export type FamilyArchitecture = 'llama' | 'qwen2' | 'qwen3' | 'phi3' | 'gemma2' | 'gemma3'

/** Gemma's norm tensors, which differ from llama's meaning of post_attention_layernorm. */
const gemmaSuffixes: Record<string, string> = {
  'post_attention_layernorm.weight': 'post_attention_norm.weight',
  'pre_feedforward_layernorm.weight': 'ffn_norm.weight',
  'post_feedforward_layernorm.weight': 'post_ffw_norm.weight',
}

/** llama.cpp's per-frequency divisors for llama3 scaling, computed in float32 as the converter does. */
export function llama3RopeFrequencyDivisors(config: LlamaConfig): Float32Array {
  const scaling = config.ropeScaling
  if (scaling?.type !== 'llama3') throw new Error('llama3RopeFrequencyDivisors needs llama3 scaling')
  const half = config.headDim / 2
  const lowWavelength = scaling.originalMaxPositionEmbeddings / scaling.lowFrequencyFactor
  const highWavelength = scaling.originalMaxPositionEmbeddings / scaling.highFrequencyFactor
  return Float32Array.from({ length: half }, (_, i) => {
    const frequency = Math.fround(1 / Math.fround(config.ropeTheta ** ((2 * i) / config.headDim)))
    const wavelength = (2 * Math.PI) / frequency
    if (wavelength < highWavelength) return 1
    if (wavelength > lowWavelength) return scaling.factor
    const smooth =
      (scaling.originalMaxPositionEmbeddings / wavelength - scaling.lowFrequencyFactor) /
      (scaling.highFrequencyFactor - scaling.lowFrequencyFactor)
    return 1 / ((1 - smooth) / scaling.factor + smooth)
  })
}

const layerSuffixes: Record<string, string> = {
  'input_layernorm.weight': 'attn_norm.weight',
  'self_attn.q_proj.weight': 'attn_q.weight',
  'self_attn.k_proj.weight': 'attn_k.weight',
  'self_attn.v_proj.weight': 'attn_v.weight',
  'self_attn.q_proj.bias': 'attn_q.bias',
  'self_attn.k_proj.bias': 'attn_k.bias',
  'self_attn.v_proj.bias': 'attn_v.bias',
  'self_attn.q_norm.weight': 'attn_q_norm.weight',
  'self_attn.k_norm.weight': 'attn_k_norm.weight',
  'self_attn.o_proj.weight': 'attn_output.weight',
  'post_attention_layernorm.weight': 'ffn_norm.weight',
  'mlp.gate_proj.weight': 'ffn_gate.weight',
  'mlp.up_proj.weight': 'ffn_up.weight',
  'mlp.down_proj.weight': 'ffn_down.weight',
}

function float32(checkpoint: LlamaCheckpoint, name: string): Float32Array {
  const data = checkpoint.weights.get(name)?.data
  if (!(data instanceof Float32Array)) throw new Error(`test models need float32 weight ${name}`)
  return data
}

function stackRows(parts: Float32Array[]): Float32Array {
  const result = new Float32Array(parts.reduce((total, part) => total + part.length, 0))
  let offset = 0
  for (const part of parts) {
    result.set(part, offset)
    offset += part.length
  }
  return result
}

export interface FamilyGgufOptions {
  /** Metadata entries to add or replace; undefined removes a key. */
  metadata?: Record<string, GgufMetadataValue | undefined>
  /** Per-tensor overrides by GGUF name; undefined leaves a tensor out. */
  tensors?: Record<string, GgufTensorInput | undefined>
  /** Type of the 2-D matrices (default F32). */
  matrixType?: GGMLQuantizationType
  /** phi3 only: write attn_q/attn_k/attn_v apart instead of the fused attn_qkv (llama.cpp loads either). */
  separateQueryKeyValue?: boolean
}

/** The GGUF content llama.cpp would write for `checkpoint` as `architecture`. */
export function familyCheckpointToGguf(
  checkpoint: LlamaCheckpoint,
  architecture: FamilyArchitecture,
  options: FamilyGgufOptions = {},
): GgufContent {
  const { config } = checkpoint
  const vocabulary = tinyVocabulary(config.vocabSize)
  const key = (suffix: string): string => `${architecture}.${suffix}`
  const base: [string, GgufMetadataValue][] = [
    ['general.architecture', { type: 'string', value: architecture }],
    ['general.name', { type: 'string', value: `tiny test ${config.architecture ?? architecture}` }],
    [key('context_length'), { type: 'uint32', value: config.maxPositionEmbeddings }],
    [key('embedding_length'), { type: 'uint32', value: config.hiddenSize }],
    [key('block_count'), { type: 'uint32', value: config.numLayers }],
    [key('feed_forward_length'), { type: 'uint32', value: config.intermediateSize }],
    [key('rope.dimension_count'), { type: 'uint32', value: config.headDim }],
    [key('attention.head_count'), { type: 'uint32', value: config.numHeads }],
    [key('attention.head_count_kv'), { type: 'uint32', value: config.numKeyValueHeads }],
    [key('attention.key_length'), { type: 'uint32', value: config.headDim }],
    [key('attention.value_length'), { type: 'uint32', value: config.headDim }],
    [key('attention.layer_norm_rms_epsilon'), { type: 'float32', value: config.rmsNormEps }],
    [key('rope.freq_base'), { type: 'float32', value: config.ropeTheta }],
    ['tokenizer.ggml.model', { type: 'string', value: 'llama' }],
    ['tokenizer.ggml.tokens', { type: 'array', elementType: 'string', value: vocabulary.tokens }],
    ['tokenizer.ggml.scores', { type: 'array', elementType: 'float32', value: vocabulary.scores }],
    ['tokenizer.ggml.token_type', { type: 'array', elementType: 'int32', value: vocabulary.types }],
    ['tokenizer.ggml.bos_token_id', { type: 'uint32', value: config.bosTokenId }],
    ['tokenizer.ggml.eos_token_id', { type: 'uint32', value: config.eosTokenId }],
  ]
  if (config.slidingWindow !== undefined) {
    base.push([key('attention.sliding_window'), { type: 'uint32', value: config.slidingWindow }])
  }
  if (config.attentionLogitSoftcap !== undefined) {
    base.push([key('attn_logit_softcapping'), { type: 'float32', value: config.attentionLogitSoftcap }])
  }
  if (config.finalLogitSoftcap !== undefined) {
    base.push([key('final_logit_softcapping'), { type: 'float32', value: config.finalLogitSoftcap }])
  }
  if (config.ropeScaling?.type === 'linear') {
    base.push([key('rope.scaling.type'), { type: 'string', value: 'linear' }])
    base.push([key('rope.scaling.factor'), { type: 'float32', value: config.ropeScaling.factor }])
  }
  const overrides = options.metadata ?? {}
  const metadata = base
    .map(([name, value]): [string, GgufMetadataValue | undefined] => [
      name,
      name in overrides ? overrides[name] : value,
    ])
    .concat(Object.entries(overrides).filter(([name]) => !base.some(([baseName]) => baseName === name)))
    .filter((entry): entry is [string, GgufMetadataValue] => entry[1] !== undefined)

  const tensors: GgufTensorInput[] = []
  const matrix = (name: string, values: Float32Array, shape: number[]): GgufTensorInput => {
    // Vectors (norms, biases, rope_freqs) stay F32, as llama.cpp's quantizer leaves them.
    const type =
      shape.length === 1 ? GGMLQuantizationType.F32 : (options.matrixType ?? GGMLQuantizationType.F32)
    const encoder = quantizers.get(type)
    return { name, type, shape, data: encoder === undefined ? values : encoder(values) }
  }
  const add = (tensor: GgufTensorInput): void => {
    if (options.tensors !== undefined && tensor.name in options.tensors) return
    tensors.push(tensor)
  }
  add(
    matrix('token_embd.weight', float32(checkpoint, 'model.embed_tokens.weight'), [
      config.vocabSize,
      config.hiddenSize,
    ]),
  )
  if (config.ropeScaling?.type === 'llama3') {
    add(matrix('rope_freqs.weight', llama3RopeFrequencyDivisors(config), [config.headDim / 2]))
  }
  for (let layer = 0; layer < config.numLayers; layer++) {
    const prefix = `model.layers.${layer}.`
    const fused = architecture === 'phi3'
    for (const [name, weight] of checkpoint.weights) {
      if (!name.startsWith(prefix)) continue
      const suffix = name.slice(prefix.length)
      const fusedAway =
        options.separateQueryKeyValue === true
          ? /^mlp\.(gate|up)_proj\.weight$/
          : /^(self_attn\.[qkv]_proj|mlp\.(gate|up)_proj)\.weight$/
      if (fused && fusedAway.test(suffix)) continue
      let values = float32(checkpoint, name)
      if (architecture === 'llama' && suffix === 'self_attn.q_proj.weight') {
        values = halfSplitToInterleavedRows(values, config.numHeads, config.headDim)
      }
      if (architecture === 'llama' && suffix === 'self_attn.k_proj.weight') {
        values = halfSplitToInterleavedRows(values, config.numKeyValueHeads, config.headDim)
      }
      const ggufSuffix =
        (architecture.startsWith('gemma') ? gemmaSuffixes[suffix] : undefined) ??
        layerSuffixes[suffix] ??
        suffix
      add(matrix(`blk.${layer}.${ggufSuffix}`, values, weight.shape))
    }
    if (fused && options.separateQueryKeyValue !== true) {
      const qkvRows = (config.numHeads + 2 * config.numKeyValueHeads) * config.headDim
      add(
        matrix(
          `blk.${layer}.attn_qkv.weight`,
          stackRows(
            ['q', 'k', 'v'].map((which) => float32(checkpoint, `${prefix}self_attn.${which}_proj.weight`)),
          ),
          [qkvRows, config.hiddenSize],
        ),
      )
    }
    if (fused) {
      add(
        matrix(
          `blk.${layer}.ffn_up.weight`,
          stackRows(['gate', 'up'].map((which) => float32(checkpoint, `${prefix}mlp.${which}_proj.weight`))),
          [2 * config.intermediateSize, config.hiddenSize],
        ),
      )
    }
  }
  add(matrix('output_norm.weight', float32(checkpoint, 'model.norm.weight'), [config.hiddenSize]))
  if (!config.tieWordEmbeddings) {
    add(matrix('output.weight', float32(checkpoint, 'lm_head.weight'), [config.vocabSize, config.hiddenSize]))
  }
  for (const override of Object.values(options.tensors ?? {})) {
    if (override !== undefined) tensors.push(override)
  }
  return { metadata, tensors }
}
