import type { ModelArchitecture } from '../../checkpoint.ts'

/**
 * The GGUF architectures Tiller imports and how each differs from llama, as llama.cpp writes them
 * (gguf-py constants.py MODEL_TENSORS, convert_hf_to_gguf.py, llama-model.cpp's tensor shapes and rope types).
 *
 *   llama  q/k rows interleaved per head (rope type NORM: the converter permutes Hugging Face rows), optional
 *          rope_freqs.weight (Llama 3.1/3.2 llama3 scaling as per-frequency divisors). Mistral 7B is written as
 *          llama; a `llama.attention.sliding_window` makes it Hugging Face's mistral.
 *   qwen2  rotate_half rows (rope type NEOX, no permutation), q/k/v biases `blk.N.attn_{q,k,v}.bias`.
 *   qwen3  rotate_half rows, per-head norms `blk.N.attn_{q,k}_norm.weight` `[headDim]`.
 *   phi3   rotate_half rows, fused `blk.N.attn_qkv.weight` `[(heads + 2·kvHeads)·headDim, hidden]` (or
 *          attn_q/attn_k/attn_v apart, which llama.cpp also loads) and
 *          `blk.N.ffn_up.weight` `[2·intermediate, hidden]` (gate rows first, then up), no ffn_gate;
 *          `phi3.attention.sliding_window`.
 *   gemma2 rotate_half rows, four norms per layer: attn_norm (input), post_attention_norm (attention output),
 *          ffn_norm (before the MLP, Hugging Face's pre_feedforward_layernorm), post_ffw_norm (MLP output); norm
 *          weights hold 1 + w; no output.weight (tied). Features in metadata, see gemma-config.ts.
 *   gemma3 gemma2's tensors plus per-head norms `blk.N.attn_{q,k}_norm.weight` `[headDim]` (also 1 + w).
 */
export interface GgufArchitecture {
  /** The Hugging Face model_type it becomes (llama may become mistral, see above). */
  modelType: ModelArchitecture
  /** Q/K rows are stored in interleaved pairs and must be permuted to rotate_half order. */
  interleavedQueryKey: boolean
  attentionBias: boolean
  qkNorm: boolean
  /** q/k/v in one attn_qkv tensor and gate/up in one ffn_up tensor. */
  fusedProjections: boolean
  /** Gemma's post_attention_norm and post_ffw_norm around the sub-layers (ffn_norm is then the pre-MLP norm). */
  sandwichNorms: boolean
}

export const ggufArchitectures: Readonly<Record<string, GgufArchitecture>> = {
  llama: {
    modelType: 'llama',
    interleavedQueryKey: true,
    attentionBias: false,
    qkNorm: false,
    fusedProjections: false,
    sandwichNorms: false,
  },
  qwen2: {
    modelType: 'qwen2',
    interleavedQueryKey: false,
    attentionBias: true,
    qkNorm: false,
    fusedProjections: false,
    sandwichNorms: false,
  },
  qwen3: {
    modelType: 'qwen3',
    interleavedQueryKey: false,
    attentionBias: false,
    qkNorm: true,
    fusedProjections: false,
    sandwichNorms: false,
  },
  phi3: {
    modelType: 'phi3',
    interleavedQueryKey: false,
    attentionBias: false,
    qkNorm: false,
    fusedProjections: true,
    sandwichNorms: false,
  },
  gemma2: {
    modelType: 'gemma2',
    interleavedQueryKey: false,
    attentionBias: false,
    qkNorm: false,
    fusedProjections: false,
    sandwichNorms: true,
  },
  gemma3: {
    modelType: 'gemma3_text',
    interleavedQueryKey: false,
    attentionBias: false,
    qkNorm: true,
    fusedProjections: false,
    sandwichNorms: true,
  },
}

/** How one GGUF tensor becomes Hugging Face weights: one name, or consecutive row blocks split into several. */
export interface TensorMapping {
  /** Hugging Face names, in row order; one unless the tensor is fused. */
  huggingFaceNames: string[]
  /** Rows of each part when fused (same order as huggingFaceNames). */
  rowSplit?: number[]
  /** Set for q/k projections of interleaved architectures: rows go to rotate_half order, per head. */
  ropeHeads?: 'query' | 'key'
  /** An alternative form of tensors another mapping also provides (phi3's unfused q/k/v): not counted as required. */
  alternative?: boolean
}

/** What a layer's mapping needs to know about sizes. */
export interface LayerSizes {
  numHeads: number
  numKeyValueHeads: number
  headDim: number
  intermediateSize: number
}

/** The layer tensors of `architecture`, by GGUF suffix after `blk.N.`, with Hugging Face suffixes after `model.layers.N.`. */
export function layerTensorMappings(
  architecture: GgufArchitecture,
  sizes: LayerSizes,
): Record<string, TensorMapping> {
  const interleaved = architecture.interleavedQueryKey
  const one = (name: string, ropeHeads?: 'query' | 'key'): TensorMapping => ({
    huggingFaceNames: [name],
    ...(ropeHeads !== undefined && interleaved ? { ropeHeads } : {}),
  })
  const mappings: Record<string, TensorMapping> = {
    'attn_norm.weight': one('input_layernorm.weight'),
    'attn_output.weight': one('self_attn.o_proj.weight'),
    'ffn_norm.weight': one('post_attention_layernorm.weight'),
    'ffn_down.weight': one('mlp.down_proj.weight'),
  }
  if (architecture.fusedProjections) {
    const queryRows = sizes.numHeads * sizes.headDim
    const keyValueRows = sizes.numKeyValueHeads * sizes.headDim
    mappings['attn_qkv.weight'] = {
      huggingFaceNames: ['self_attn.q_proj.weight', 'self_attn.k_proj.weight', 'self_attn.v_proj.weight'],
      rowSplit: [queryRows, keyValueRows, keyValueRows],
    }
    mappings['ffn_up.weight'] = {
      huggingFaceNames: ['mlp.gate_proj.weight', 'mlp.up_proj.weight'],
      rowSplit: [sizes.intermediateSize, sizes.intermediateSize],
    }
    // llama.cpp also loads phi3 files whose converter wrote q, k and v apart.
    for (const which of ['q', 'k', 'v']) {
      mappings[`attn_${which}.weight`] = {
        huggingFaceNames: [`self_attn.${which}_proj.weight`],
        alternative: true,
      }
    }
  } else {
    mappings['attn_q.weight'] = one('self_attn.q_proj.weight', 'query')
    mappings['attn_k.weight'] = one('self_attn.k_proj.weight', 'key')
    mappings['attn_v.weight'] = one('self_attn.v_proj.weight')
    mappings['ffn_gate.weight'] = one('mlp.gate_proj.weight')
    mappings['ffn_up.weight'] = one('mlp.up_proj.weight')
  }
  if (architecture.attentionBias) {
    mappings['attn_q.bias'] = one('self_attn.q_proj.bias')
    mappings['attn_k.bias'] = one('self_attn.k_proj.bias')
    mappings['attn_v.bias'] = one('self_attn.v_proj.bias')
  }
  if (architecture.sandwichNorms) {
    mappings['post_attention_norm.weight'] = one('post_attention_layernorm.weight')
    mappings['ffn_norm.weight'] = one('pre_feedforward_layernorm.weight')
    mappings['post_ffw_norm.weight'] = one('post_feedforward_layernorm.weight')
  }
  if (architecture.qkNorm) {
    mappings['attn_q_norm.weight'] = one('self_attn.q_norm.weight')
    mappings['attn_k_norm.weight'] = one('self_attn.k_norm.weight')
  }
  return mappings
}

/** Model-level tensors (outside blocks). rope_freqs.weight feeds the config, not the weights. */
export const modelTensorMappings: Readonly<Record<string, TensorMapping>> = {
  'token_embd.weight': { huggingFaceNames: ['model.embed_tokens.weight'] },
  'output_norm.weight': { huggingFaceNames: ['model.norm.weight'] },
  'output.weight': { huggingFaceNames: ['lm_head.weight'] },
}

/** The llama.cpp tensor holding per-frequency RoPE divisors `[headDim / 2]` (Llama 3.1 llama3 scaling). */
export const ropeFrequenciesTensor = 'rope_freqs.weight'
