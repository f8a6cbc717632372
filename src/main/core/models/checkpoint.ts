/**
 * A Llama-architecture checkpoint in memory: the exporter's input, produced by importers (GGUF, llama2.c, ...).
 *
 * Weights use Hugging Face names and layouts (`nn.Linear` weights are `[out, in]`) and Hugging Face's RoPE
 * convention (rotate_half: dimension i pairs with i + headDim/2). Importers whose source stores Q/K rows in the
 * interleaved (Meta / llama.cpp) order permute them into this convention before handing the checkpoint over.
 *
 * Names:
 *   model.embed_tokens.weight                          [vocab, hidden]
 *   model.layers.{l}.input_layernorm.weight            [hidden]
 *   model.layers.{l}.self_attn.q_proj.weight           [heads * headDim, hidden]
 *   model.layers.{l}.self_attn.k_proj.weight           [kvHeads * headDim, hidden]
 *   model.layers.{l}.self_attn.v_proj.weight           [kvHeads * headDim, hidden]
 *   model.layers.{l}.self_attn.o_proj.weight           [hidden, heads * headDim]
 *   model.layers.{l}.post_attention_layernorm.weight   [hidden]
 *   model.layers.{l}.mlp.gate_proj.weight              [intermediate, hidden]
 *   model.layers.{l}.mlp.up_proj.weight                [intermediate, hidden]
 *   model.layers.{l}.mlp.down_proj.weight              [hidden, intermediate]
 *   model.norm.weight                                  [hidden]
 *   lm_head.weight                                     [vocab, hidden]   (absent when tieWordEmbeddings)
 * Family features add (see the optional config fields):
 *   model.layers.{l}.self_attn.{q,k,v}_proj.bias       [heads·headDim | kvHeads·headDim]   (attentionBias)
 *   model.layers.{l}.self_attn.{q,k}_norm.weight       [headDim]                             (qkNorm)
 *   model.layers.{l}.pre_feedforward_layernorm.weight  [hidden]   (sandwichNorms: the norm before the MLP; then
 *   model.layers.{l}.post_feedforward_layernorm.weight [hidden]    post_attention_layernorm normalizes the attention
 *                                                                  output, as in Hugging Face's Gemma 2/3)
 * Gemma's norms scale by (1 + w) over Hugging Face's zero-centred w. llama.cpp's converter stores the multiplier
 * 1 + w (convert_hf_to_gguf.py adds 1 to every `norm.weight` of gemma, gemma2 and gemma3), and Tiller keeps that
 * multiplier under the same names: every norm weight of a checkpoint is what the norm multiplies by.
 */
export interface LlamaConfig {
  vocabSize: number
  hiddenSize: number
  intermediateSize: number
  numLayers: number
  numHeads: number
  numKeyValueHeads: number
  headDim: number
  rmsNormEps: number
  ropeTheta: number
  maxPositionEmbeddings: number
  tieWordEmbeddings: boolean
  bosTokenId: number
  eosTokenId: number
  /** Further ids that end generation (a chat model's end of turn, e.g. `<|eot_id|>`); absent when none. */
  endOfTurnTokenIds?: number[]
  padTokenId?: number
  /** Hugging Face model_type of the family; absent means 'llama'. Names config.json's model class. */
  architecture?: ModelArchitecture
  /** q/k/v projections carry biases (Qwen 2/2.5). */
  attentionBias?: boolean
  /** Per-head RMSNorm on q and k before RoPE, one `[headDim]` weight each, shared by all heads (Qwen 3). */
  qkNorm?: boolean
  /** Frequency remapping of RoPE (Llama 3.1/3.2 'llama3', linear, or per-frequency divisors from a GGUF). */
  ropeScaling?: RopeScaling
  /** Each query attends to the last `slidingWindow` keys only, itself included (Mistral v0.1, Phi-3). */
  slidingWindow?: number
  /**
   * With slidingWindow: layer l is global (full causal attention) when (l + 1) % slidingWindowPattern = 0, sliding
   * otherwise (Gemma 2: 2, even layers slide; Gemma 3: 6, five sliding layers then one global). Absent: every
   * layer slides.
   */
  slidingWindowPattern?: number
  /** RoPE base of the sliding layers, which then get no RoPE scaling (Gemma 3's rope_local_base_freq). */
  localRopeTheta?: number
  /** Token embeddings are multiplied by sqrt(hiddenSize) in the float type (Gemma). */
  scaledEmbedding?: boolean
  /** The gated MLP's activation; absent means SiLU. 'gelu_tanh' is GELU's tanh approximation (Gemma). */
  hiddenActivation?: 'silu' | 'gelu_tanh'
  /** Four norms per layer: attention and MLP outputs are normalized before the residual add (Gemma 2/3). */
  sandwichNorms?: boolean
  /** Attention scores are scaled by 1/sqrt(queryPreAttentionScalar) instead of 1/sqrt(headDim) (Gemma). */
  queryPreAttentionScalar?: number
  /** Attention scores become cap·tanh(score / cap) before the mask (Gemma 2's attn_logit_softcapping). */
  attentionLogitSoftcap?: number
  /** Logits become cap·tanh(logit / cap) (Gemma 2's final_logit_softcapping). */
  finalLogitSoftcap?: number
}

/**
 * Whether `layer` is one of the pattern's local layers (every layer when there is a window and no pattern). Gemma 3's
 * local layers use localRopeTheta even when the window covers the whole context (llama.cpp and Hugging Face alike).
 */
export function isLocalLayer(config: LlamaConfig, layer: number): boolean {
  const pattern = config.slidingWindowPattern
  if (pattern === undefined) return config.slidingWindow !== undefined
  return (layer + 1) % pattern !== 0
}

/** Whether layer `layer` attends through the sliding window (see slidingWindowPattern). */
export function isSlidingLayer(config: LlamaConfig, layer: number): boolean {
  return config.slidingWindow !== undefined && isLocalLayer(config, layer)
}

/** The norm before a layer's MLP: pre_feedforward_layernorm with sandwich norms, else post_attention_layernorm. */
export function mlpInputNormName(config: LlamaConfig): string {
  return config.sandwichNorms === true ? 'pre_feedforward_layernorm' : 'post_attention_layernorm'
}

/** The families Tiller builds graphs for, by Hugging Face model_type. */
export const modelArchitectures = [
  'llama',
  'mistral',
  'qwen2',
  'qwen3',
  'phi3',
  'gemma2',
  'gemma3_text',
] as const
export type ModelArchitecture = (typeof modelArchitectures)[number]

/**
 * RoPE frequency scaling. Every form divides frequency i (θ^(-2i/headDim)) by a factor ≥ 1:
 *   llama3             Hugging Face's rope_type 'llama3': factor for wavelengths longer than
 *                      originalMaxPositionEmbeddings / lowFrequencyFactor, 1 for those shorter than
 *                      originalMaxPositionEmbeddings / highFrequencyFactor, a smooth blend between.
 *   linear             every frequency divided by factor (positions interpolated).
 *   frequency-factors  one divisor per frequency, `[headDim / 2]`, as llama.cpp stores them (rope_freqs.weight).
 */
export type RopeScaling =
  | {
      type: 'llama3'
      factor: number
      lowFrequencyFactor: number
      highFrequencyFactor: number
      originalMaxPositionEmbeddings: number
    }
  | { type: 'linear'; factor: number }
  | { type: 'frequency-factors'; factors: number[] }

/** Element type of a stored weight. float16 values are IEEE half bit patterns. */
export type WeightDType = 'float32' | 'float16'

/**
 * The block-quantized form a weight was read from, kept next to its float values so a quantized export can
 * write it exactly or nearly (exporter/quantize-blocks.ts). Element i of a `[rows, columns]` weight, in group
 * g = floor(i / groupSize) (groups never straddle rows), is `scales[g] * (quants[i] - zeroPoint) + offsets[g]`.
 */
export interface WeightBlocks {
  groupSize: number
  bits: number
  zeroPoint: number
  /** `[groups]` */
  scales: Float32Array
  /** `[elements]`, unsigned, each below 2^bits */
  quants: Uint8Array
  /** `[groups]` added to each group's values (Q4_1, Q5_1, Q4_K, Q5_K minimums), when the type has them. */
  offsets?: Float32Array
  /**
   * True when the weight's values are a function of these blocks alone: scales·(quants − zeroPoint), or
   * quants·scales + offsets (GGUF's legacy types; not the K-quants, whose two-level scales the blocks fold). A
   * quantized export's weights hash then hashes the blocks instead of the values (weights-hash.ts).
   */
  determineValues?: boolean
}

export interface WeightTensor {
  dtype: WeightDType
  shape: number[]
  data: Float32Array | Uint16Array
  /** Set by importers for weights stored as blocks of 32 (GGUF Q4_0…Q8_0, Q4_K, Q5_K); `data` is their value. */
  blocks?: WeightBlocks
  /**
   * Bits of each value as the importer's source stored it (GGUF: quant width of the block type, 16 or 32 for
   * floats), when known; a q4 export writes weights above 4 bits with 8 (exporter/weights.ts).
   */
  sourceBits?: number
}

/**
 * `weight` with `data` computed by `values` on its first read and kept: a quantized export that copies a weight's
 * blocks exactly never needs its float values, which are 4 bytes an element against the blocks' one or less.
 * Spreading the result reads `data`.
 */
export function withLazyValues(
  weight: Omit<WeightTensor, 'data'>,
  values: () => Float32Array | Uint16Array,
): WeightTensor {
  let computed: Float32Array | Uint16Array | undefined
  return Object.defineProperty({ ...weight }, 'data', {
    get: () => (computed ??= values()),
    enumerable: true,
  }) as WeightTensor
}

/** Whether `weight.data` is computed on first read (withLazyValues), so checks that need no values avoid it. */
export function hasLazyValues(weight: WeightTensor): boolean {
  return Object.getOwnPropertyDescriptor(weight, 'data')?.get !== undefined
}

export interface LlamaCheckpoint {
  config: LlamaConfig
  weights: Map<string, WeightTensor>
}

/** Tokenizer files written next to the model: the contents of tokenizer.json and tokenizer_config.json. */
export interface TokenizerFiles {
  tokenizerJson: Record<string, unknown>
  tokenizerConfig: Record<string, unknown>
}

/** The Hugging Face weight names a checkpoint with this config must contain, with their shapes. */
export function expectedWeightShapes(config: LlamaConfig): Map<string, number[]> {
  const {
    hiddenSize: hidden,
    intermediateSize: inter,
    numHeads,
    numKeyValueHeads,
    headDim,
    vocabSize,
  } = config
  const shapes = new Map<string, number[]>()
  shapes.set('model.embed_tokens.weight', [vocabSize, hidden])
  for (let layer = 0; layer < config.numLayers; layer++) {
    const prefix = `model.layers.${layer}`
    shapes.set(`${prefix}.input_layernorm.weight`, [hidden])
    shapes.set(`${prefix}.self_attn.q_proj.weight`, [numHeads * headDim, hidden])
    shapes.set(`${prefix}.self_attn.k_proj.weight`, [numKeyValueHeads * headDim, hidden])
    shapes.set(`${prefix}.self_attn.v_proj.weight`, [numKeyValueHeads * headDim, hidden])
    if (config.attentionBias === true) {
      shapes.set(`${prefix}.self_attn.q_proj.bias`, [numHeads * headDim])
      shapes.set(`${prefix}.self_attn.k_proj.bias`, [numKeyValueHeads * headDim])
      shapes.set(`${prefix}.self_attn.v_proj.bias`, [numKeyValueHeads * headDim])
    }
    if (config.qkNorm === true) {
      shapes.set(`${prefix}.self_attn.q_norm.weight`, [headDim])
      shapes.set(`${prefix}.self_attn.k_norm.weight`, [headDim])
    }
    shapes.set(`${prefix}.self_attn.o_proj.weight`, [hidden, numHeads * headDim])
    shapes.set(`${prefix}.post_attention_layernorm.weight`, [hidden])
    if (config.sandwichNorms === true) {
      shapes.set(`${prefix}.pre_feedforward_layernorm.weight`, [hidden])
      shapes.set(`${prefix}.post_feedforward_layernorm.weight`, [hidden])
    }
    shapes.set(`${prefix}.mlp.gate_proj.weight`, [inter, hidden])
    shapes.set(`${prefix}.mlp.up_proj.weight`, [inter, hidden])
    shapes.set(`${prefix}.mlp.down_proj.weight`, [hidden, inter])
  }
  shapes.set('model.norm.weight', [hidden])
  if (!config.tieWordEmbeddings) shapes.set('lm_head.weight', [vocabSize, hidden])
  return shapes
}
