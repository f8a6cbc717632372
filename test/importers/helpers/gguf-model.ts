import { GGMLQuantizationType } from '@huggingface/gguf'

import type { LlamaCheckpoint, LlamaConfig, WeightTensor } from '../../../src/main/core/models/checkpoint.ts'
import { expectedWeightShapes } from '../../../src/main/core/models/checkpoint.ts'
import { halfSplitToInterleavedRows } from '../../../src/main/core/models/importers/rope-permutation.ts'
import type { GgufContent, GgufMetadataValue, GgufTensorInput } from '../../../src/main/core/gguf/writer.ts'
import { quantizers } from './quantize.ts'

/**
 * Tiny llama test models in GGUF form: a random Hugging Face-convention checkpoint, written the way llama.cpp's
 * converter writes it (q/k rows interleaved, GGUF tensor names, ne0-first dims, SentencePiece vocabulary).
 */

/** A 2-layer model whose rows (hidden 64, intermediate 96) are whole blocks of 32, as the legacy types need. */
export const tinyConfig: LlamaConfig = {
  vocabSize: 300,
  hiddenSize: 64,
  intermediateSize: 96,
  numLayers: 2,
  numHeads: 4,
  numKeyValueHeads: 2,
  headDim: 16,
  rmsNormEps: 1e-6,
  ropeTheta: 10000,
  maxPositionEmbeddings: 128,
  tieWordEmbeddings: false,
  bosTokenId: 1,
  eosTokenId: 2,
}

/** Deterministic pseudo-random values, roughly uniform in [-scale, scale). */
export function randomValues(length: number, seed: number, scale: number): Float32Array {
  let state = seed >>> 0
  return Float32Array.from({ length }, () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0
    return (state / 2 ** 31 - 1) * scale
  })
}

/** A random float32 checkpoint; norm weights are near 1 as in trained models. */
export function randomCheckpoint(config: LlamaConfig, seed = 1): LlamaCheckpoint {
  const weights = new Map<string, WeightTensor>()
  let index = 0
  for (const [name, shape] of expectedWeightShapes(config)) {
    const count = shape.reduce((product, size) => product * size, 1)
    const values = randomValues(count, seed * 1000 + index++, name.endsWith('norm.weight') ? 0.2 : 0.25)
    if (name.endsWith('norm.weight')) values.forEach((value, position) => (values[position] = 1 + value))
    weights.set(name, { dtype: 'float32', shape, data: values })
  }
  return { config, weights }
}

/** A SentencePiece-style vocabulary: <unk>, <s>, </s>, 256 byte pieces, characters, then merged pieces. */
export function tinyVocabulary(size: number): { tokens: string[]; scores: number[]; types: number[] } {
  const tokens = ['<unk>', '<s>', '</s>']
  const types = [2, 3, 3]
  const scores = [0, 0, 0]
  for (let byte = 0; byte < 256; byte++) {
    tokens.push(`<0x${byte.toString(16).toUpperCase().padStart(2, '0')}>`)
    types.push(6)
    scores.push(0)
  }
  const merged = ['▁t', 'he', '▁a', '▁the', 'in', 'er', '▁s', 'an', 'on', '▁w', 'at', 'en', 'ed', '▁b']
  const characters = [...'▁abcdefghijklmnopqrstuvwxyz.,']
  merged.forEach((piece, rank) => {
    tokens.push(piece)
    types.push(1)
    scores.push(-rank)
  })
  characters.forEach((character, rank) => {
    tokens.push(character)
    types.push(1)
    scores.push(-100 - rank)
  })
  while (tokens.length < size) {
    tokens.push(`<unused${tokens.length}>`)
    types.push(5)
    scores.push(-1000)
  }
  return { tokens: tokens.slice(0, size), scores: scores.slice(0, size), types: types.slice(0, size) }
}

const layerNames: Record<string, string> = {
  'input_layernorm.weight': 'attn_norm.weight',
  'self_attn.q_proj.weight': 'attn_q.weight',
  'self_attn.k_proj.weight': 'attn_k.weight',
  'self_attn.v_proj.weight': 'attn_v.weight',
  'self_attn.o_proj.weight': 'attn_output.weight',
  'post_attention_layernorm.weight': 'ffn_norm.weight',
  'mlp.gate_proj.weight': 'ffn_gate.weight',
  'mlp.up_proj.weight': 'ffn_up.weight',
  'mlp.down_proj.weight': 'ffn_down.weight',
}

/** The GGUF tensor name of a Hugging Face weight name. */
export function ggufTensorName(name: string): string {
  if (name === 'model.embed_tokens.weight') return 'token_embd.weight'
  if (name === 'model.norm.weight') return 'output_norm.weight'
  if (name === 'lm_head.weight') return 'output.weight'
  const match = /^model\.layers\.(\d+)\.(.+)$/.exec(name)
  const suffix = layerNames[match?.[2] ?? '']
  if (match === null || suffix === undefined) throw new Error(`no GGUF name for ${name}`)
  return `blk.${match[1]}.${suffix}`
}

/** Options for writing a test model. */
export interface GgufModelOptions {
  /** Type of the 2-D weight matrices (norms are always F32, as llama.cpp writes them). */
  matrixType?: GGMLQuantizationType
  /** Per-tensor types by GGUF name, over matrixType (as llama-quantize's mixes give token_embd and ffn_down their own). */
  tensorTypes?: Record<string, GGMLQuantizationType>
  /** Metadata entries to add or replace (by key); an undefined value removes the key. */
  metadata?: Record<string, GgufMetadataValue | undefined>
  /** Per-tensor overrides by GGUF name (replace the tensor input), or undefined to leave a tensor out. */
  tensors?: Record<string, GgufTensorInput | undefined>
}

function encodeMatrix(
  name: string,
  values: Float32Array,
  shape: number[],
  type: GGMLQuantizationType,
): GgufTensorInput {
  const encoder = quantizers.get(type)
  return { name, type, shape, data: encoder === undefined ? values : encoder(values) }
}

/** The GGUF content llama.cpp's converter would write for this checkpoint. */
export function checkpointToGguf(checkpoint: LlamaCheckpoint, options: GgufModelOptions = {}): GgufContent {
  const { config } = checkpoint
  const vocabulary = tinyVocabulary(config.vocabSize)
  const base: [string, GgufMetadataValue][] = [
    ['general.architecture', { type: 'string', value: 'llama' }],
    ['general.name', { type: 'string', value: 'tiny test llama' }],
    ['llama.context_length', { type: 'uint32', value: config.maxPositionEmbeddings }],
    ['llama.embedding_length', { type: 'uint32', value: config.hiddenSize }],
    ['llama.block_count', { type: 'uint32', value: config.numLayers }],
    ['llama.feed_forward_length', { type: 'uint32', value: config.intermediateSize }],
    ['llama.rope.dimension_count', { type: 'uint32', value: config.headDim }],
    ['llama.attention.head_count', { type: 'uint32', value: config.numHeads }],
    ['llama.attention.head_count_kv', { type: 'uint32', value: config.numKeyValueHeads }],
    ['llama.attention.layer_norm_rms_epsilon', { type: 'float32', value: config.rmsNormEps }],
    ['llama.rope.freq_base', { type: 'float32', value: config.ropeTheta }],
    ['tokenizer.ggml.model', { type: 'string', value: 'llama' }],
    ['tokenizer.ggml.tokens', { type: 'array', elementType: 'string', value: vocabulary.tokens }],
    ['tokenizer.ggml.scores', { type: 'array', elementType: 'float32', value: vocabulary.scores }],
    ['tokenizer.ggml.token_type', { type: 'array', elementType: 'int32', value: vocabulary.types }],
    ['tokenizer.ggml.bos_token_id', { type: 'uint32', value: config.bosTokenId }],
    ['tokenizer.ggml.eos_token_id', { type: 'uint32', value: config.eosTokenId }],
    ['tokenizer.ggml.unknown_token_id', { type: 'uint32', value: 0 }],
  ]
  const overrides = options.metadata ?? {}
  const metadata = base
    .map(([key, value]): [string, GgufMetadataValue | undefined] => [
      key,
      key in overrides ? overrides[key] : value,
    ])
    .concat(Object.entries(overrides).filter(([key]) => !base.some(([baseKey]) => baseKey === key)))
    .filter((entry): entry is [string, GgufMetadataValue] => entry[1] !== undefined)
  const tensors: GgufTensorInput[] = []
  for (const [name, weight] of checkpoint.weights) {
    const ggufName = ggufTensorName(name)
    if (options.tensors !== undefined && ggufName in options.tensors) {
      const override = options.tensors[ggufName]
      if (override !== undefined) tensors.push(override)
      continue
    }
    if (!(weight.data instanceof Float32Array))
      throw new Error('test models are built from float32 checkpoints')
    let values = weight.data
    if (name.endsWith('q_proj.weight'))
      values = halfSplitToInterleavedRows(values, config.numHeads, config.headDim)
    if (name.endsWith('k_proj.weight')) {
      values = halfSplitToInterleavedRows(values, config.numKeyValueHeads, config.headDim)
    }
    const type =
      weight.shape.length === 1
        ? GGMLQuantizationType.F32
        : (options.tensorTypes?.[ggufName] ?? options.matrixType ?? GGMLQuantizationType.F32)
    tensors.push(encodeMatrix(ggufName, values, weight.shape, type))
  }
  for (const [name, override] of Object.entries(options.tensors ?? {})) {
    if (override !== undefined && !tensors.some((tensor) => tensor.name === name)) tensors.push(override)
  }
  return { metadata, tensors }
}
