import {
  isLocalLayer,
  isSlidingLayer,
  mlpInputNormName,
  type LlamaCheckpoint,
  type LlamaConfig,
  type WeightTensor,
} from '../../src/main/core/models/checkpoint.ts'
import { halvesToFloats } from '../../src/shared/float16.ts'

/**
 * A plain Float32Array Llama forward pass: the numeric reference for exported graphs, hooks and edits.
 * Hugging Face semantics: RMSNorm (x / sqrt(mean(x²) + eps) · w), rotate_half RoPE with `ropeTheta`, grouped-
 * query attention (query head h reads kv head floor(h / (heads / kvHeads))), causal softmax with scale
 * 1/sqrt(headDim), SwiGLU MLP (silu(gate) · up → down), tied or untied head. Dot products accumulate in float64.
 * Family features follow the config: q/k/v biases, per-head q/k RMSNorm before RoPE, RoPE scaling (llama3, linear,
 * per-frequency divisors) and a sliding attention window. Gemma 2/3 (Hugging Face's Gemma2/Gemma3 modeling): embeddings
 * × sqrt(hidden), scores scaled by 1/sqrt(query_pre_attn_scalar) and soft-capped before the mask, sliding and global
 * layers by pattern with the sliding layers' own RoPE base, GELU (tanh) gated MLP, norms of the attention and MLP
 * outputs before their residual adds (these normed tensors are attn_out and mlp_out), soft-capped logits. Norm
 * weights are the multiplier (1 + w for Gemma, as the checkpoint stores it).
 * One unpadded sequence with positions 0..seq-1. Slow (plain loops): keep models tiny.
 */

/** Activations at the hook sites of one decoder block, each `[seq, width]` row-major. */
export interface ReferenceLayer {
  /** residual stream entering the block `[seq, hidden]` */
  residPre: Float32Array
  /** concatenated head outputs before o_proj `[seq, heads * headDim]` */
  attnHeads: Float32Array
  /** o_proj output `[seq, hidden]` (Gemma: after post_attention_layernorm) */
  attnOut: Float32Array
  /** residual after attention (resid_pre + attn_out) `[seq, hidden]` */
  residMid: Float32Array
  /** the MLP non-linearity's output silu(gate), before the product with up `[seq, intermediate]` */
  mlpGate: Float32Array
  /** down_proj input silu(gate) · up `[seq, intermediate]` */
  mlpAct: Float32Array
  /** down_proj output `[seq, hidden]` (Gemma: after post_feedforward_layernorm) */
  mlpOut: Float32Array
  /** residual leaving the block `[seq, hidden]` */
  residPost: Float32Array
}

export interface ReferenceTrace {
  /** `[seq, vocab]` */
  logits: Float32Array
  layers: ReferenceLayer[]
}

function weight(checkpoint: LlamaCheckpoint, name: string): Float32Array {
  const tensor: WeightTensor | undefined = checkpoint.weights.get(name)
  if (tensor === undefined) throw new Error(`reference forward: checkpoint has no weight ${name}`)
  return tensor.dtype === 'float16'
    ? halvesToFloats(tensor.data as Uint16Array)
    : (tensor.data as Float32Array)
}

/** x `[rows, inFeatures]` times an HF Linear weight `[outFeatures, inFeatures]` transposed → `[rows, outFeatures]`. */
function linear(x: Float32Array, rows: number, matrix: Float32Array, outFeatures: number): Float32Array {
  const inFeatures = x.length / rows
  const result = new Float32Array(rows * outFeatures)
  for (let row = 0; row < rows; row++) {
    for (let out = 0; out < outFeatures; out++) {
      let total = 0
      for (let k = 0; k < inFeatures; k++)
        total += (x[row * inFeatures + k] ?? 0) * (matrix[out * inFeatures + k] ?? 0)
      result[row * outFeatures + out] = total
    }
  }
  return result
}

/** RMSNorm over the last dimension of `[rows, width]`. */
function rmsNorm(x: Float32Array, rows: number, gamma: Float32Array, epsilon: number): Float32Array {
  const width = gamma.length
  const result = new Float32Array(x.length)
  for (let row = 0; row < rows; row++) {
    let sumOfSquares = 0
    for (let k = 0; k < width; k++) sumOfSquares += (x[row * width + k] ?? 0) ** 2
    const inverse = 1 / Math.sqrt(sumOfSquares / width + epsilon)
    for (let k = 0; k < width; k++)
      result[row * width + k] = (x[row * width + k] ?? 0) * inverse * (gamma[k] ?? 0)
  }
  return result
}

/**
 * Inverse frequencies `[headDim / 2]` as Hugging Face computes them: θ^(-2i/headDim), remapped by rope_scaling
 * (_compute_llama3_parameters: long wavelengths divided by factor, short ones kept, a linear blend of the two
 * inverse frequencies between), or divided by llama.cpp's per-frequency factors.
 */
function inverseFrequencies(config: LlamaConfig, local = false): Float64Array {
  const half = config.headDim / 2
  const theta = local ? (config.localRopeTheta ?? NaN) : config.ropeTheta
  const base = Float64Array.from({ length: half }, (_, i) => theta ** ((-2 * i) / config.headDim))
  const scaling = config.ropeScaling
  // Gemma 3's sliding layers use their own base without scaling.
  if (scaling === undefined || local) return base
  if (scaling.type === 'linear') return base.map((frequency) => frequency / scaling.factor)
  if (scaling.type === 'frequency-factors')
    return base.map((frequency, i) => frequency / (scaling.factors[i] ?? NaN))
  const lowWavelength = scaling.originalMaxPositionEmbeddings / scaling.lowFrequencyFactor
  const highWavelength = scaling.originalMaxPositionEmbeddings / scaling.highFrequencyFactor
  return base.map((frequency) => {
    const wavelength = (2 * Math.PI) / frequency
    if (wavelength > lowWavelength) return frequency / scaling.factor
    if (wavelength < highWavelength) return frequency
    const smooth =
      (scaling.originalMaxPositionEmbeddings / wavelength - scaling.lowFrequencyFactor) /
      (scaling.highFrequencyFactor - scaling.lowFrequencyFactor)
    return (1 - smooth) * (frequency / scaling.factor) + smooth * frequency
  })
}

/** x `[seq, width]` + bias `[width]` per row, in place. */
function addBias(x: Float32Array, bias: Float32Array): void {
  for (let index = 0; index < x.length; index++) x[index] = (x[index] ?? 0) + (bias[index % bias.length] ?? 0)
}

/** rotate_half RoPE in place on `[seq, heads * headDim]`, position of row s = s. */
function applyRope(
  x: Float32Array,
  seq: number,
  heads: number,
  headDim: number,
  frequencies: Float64Array,
): void {
  const half = headDim / 2
  for (let position = 0; position < seq; position++) {
    for (let head = 0; head < heads; head++) {
      const base = position * heads * headDim + head * headDim
      for (let i = 0; i < half; i++) {
        const angle = position * (frequencies[i] ?? NaN)
        const cos = Math.cos(angle)
        const sin = Math.sin(angle)
        const first = x[base + i] ?? 0
        const second = x[base + i + half] ?? 0
        x[base + i] = first * cos - second * sin
        x[base + i + half] = second * cos + first * sin
      }
    }
  }
}

function add(a: Float32Array, b: Float32Array): Float32Array {
  return a.map((value, index) => value + (b[index] ?? 0))
}

/** cap·tanh(x / cap), or x without a cap. */
function softcap(value: number, cap: number | undefined): number {
  return cap === undefined ? value : cap * Math.tanh(value / cap)
}

/** The MLP non-linearity: SiLU, or GELU's tanh approximation (Hugging Face's gelu_pytorch_tanh). */
function activation(value: number, kind: LlamaConfig['hiddenActivation']): number {
  if (kind !== 'gelu_tanh') return value / (1 + Math.exp(-value))
  return 0.5 * value * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (value + 0.044715 * value ** 3)))
}

/** Full trace: logits and every hook site of every block for one unpadded sequence. */
export function referenceTrace(checkpoint: LlamaCheckpoint, tokens: number[]): ReferenceTrace {
  const config = checkpoint.config
  const { hiddenSize: hidden, numHeads: heads, numKeyValueHeads: kvHeads, headDim, intermediateSize } = config
  const seq = tokens.length
  const embedding = weight(checkpoint, 'model.embed_tokens.weight')
  let residual: Float32Array = new Float32Array(seq * hidden)
  tokens.forEach((token, position) =>
    residual.set(embedding.subarray(token * hidden, (token + 1) * hidden), position * hidden),
  )
  if (config.scaledEmbedding === true) {
    const normalizer = Math.fround(Math.sqrt(hidden))
    residual = residual.map((value) => value * normalizer)
  }
  const layers: ReferenceLayer[] = []
  const groupSize = heads / kvHeads
  const scale = 1 / Math.sqrt(config.queryPreAttentionScalar ?? headDim)
  const normWeight = (layer: number, norm: string): Float32Array =>
    weight(checkpoint, `model.layers.${layer}.${norm}.weight`)
  for (let layer = 0; layer < config.numLayers; layer++) {
    const prefix = `model.layers.${layer}`
    const sliding = isSlidingLayer(config, layer)
    const frequencies = inverseFrequencies(
      config,
      isLocalLayer(config, layer) && config.localRopeTheta !== undefined,
    )
    // With a sliding window, query s sees keys s − window + 1 .. s (Hugging Face's sliding-window mask).
    const firstKey = (query: number): number =>
      sliding ? Math.max(0, query - (config.slidingWindow ?? NaN) + 1) : 0
    const residPre = residual
    const normed = rmsNorm(
      residPre,
      seq,
      weight(checkpoint, `${prefix}.input_layernorm.weight`),
      config.rmsNormEps,
    )
    const q = linear(normed, seq, weight(checkpoint, `${prefix}.self_attn.q_proj.weight`), heads * headDim)
    const k = linear(normed, seq, weight(checkpoint, `${prefix}.self_attn.k_proj.weight`), kvHeads * headDim)
    const v = linear(normed, seq, weight(checkpoint, `${prefix}.self_attn.v_proj.weight`), kvHeads * headDim)
    if (config.attentionBias === true) {
      addBias(q, weight(checkpoint, `${prefix}.self_attn.q_proj.bias`))
      addBias(k, weight(checkpoint, `${prefix}.self_attn.k_proj.bias`))
      addBias(v, weight(checkpoint, `${prefix}.self_attn.v_proj.bias`))
    }
    // Qwen 3: each head of q and k is RMS-normalized over headDim before RoPE.
    const qHeads =
      config.qkNorm === true
        ? rmsNorm(q, seq * heads, weight(checkpoint, `${prefix}.self_attn.q_norm.weight`), config.rmsNormEps)
        : q
    const kHeads =
      config.qkNorm === true
        ? rmsNorm(
            k,
            seq * kvHeads,
            weight(checkpoint, `${prefix}.self_attn.k_norm.weight`),
            config.rmsNormEps,
          )
        : k
    applyRope(qHeads, seq, heads, headDim, frequencies)
    applyRope(kHeads, seq, kvHeads, headDim, frequencies)
    const attnHeads = new Float32Array(seq * heads * headDim)
    for (let head = 0; head < heads; head++) {
      const kvHead = Math.floor(head / groupSize)
      for (let query = 0; query < seq; query++) {
        const scores = new Float64Array(query + 1)
        let maximum = -Infinity
        for (let key = firstKey(query); key <= query; key++) {
          let dot = 0
          for (let d = 0; d < headDim; d++) {
            dot +=
              (qHeads[query * heads * headDim + head * headDim + d] ?? 0) *
              (kHeads[key * kvHeads * headDim + kvHead * headDim + d] ?? 0)
          }
          scores[key] = softcap(dot * scale, config.attentionLogitSoftcap)
          maximum = Math.max(maximum, scores[key] ?? -Infinity)
        }
        let total = 0
        for (let key = firstKey(query); key <= query; key++) {
          scores[key] = Math.exp((scores[key] ?? 0) - maximum)
          total += scores[key] ?? 0
        }
        for (let d = 0; d < headDim; d++) {
          let mixed = 0
          for (let key = firstKey(query); key <= query; key++) {
            mixed += ((scores[key] ?? 0) / total) * (v[key * kvHeads * headDim + kvHead * headDim + d] ?? 0)
          }
          attnHeads[query * heads * headDim + head * headDim + d] = mixed
        }
      }
    }
    const sandwich = config.sandwichNorms === true
    const projected = linear(attnHeads, seq, weight(checkpoint, `${prefix}.self_attn.o_proj.weight`), hidden)
    const attnOut = sandwich
      ? rmsNorm(projected, seq, normWeight(layer, 'post_attention_layernorm'), config.rmsNormEps)
      : projected
    const residMid = add(residPre, attnOut)
    const postNormed = rmsNorm(residMid, seq, normWeight(layer, mlpInputNormName(config)), config.rmsNormEps)
    const gate = linear(
      postNormed,
      seq,
      weight(checkpoint, `${prefix}.mlp.gate_proj.weight`),
      intermediateSize,
    )
    const up = linear(postNormed, seq, weight(checkpoint, `${prefix}.mlp.up_proj.weight`), intermediateSize)
    const mlpGate = gate.map((value) => activation(value, config.hiddenActivation))
    const mlpAct = mlpGate.map((value, index) => value * (up[index] ?? 0))
    const down = linear(mlpAct, seq, weight(checkpoint, `${prefix}.mlp.down_proj.weight`), hidden)
    const mlpOut = sandwich
      ? rmsNorm(down, seq, normWeight(layer, 'post_feedforward_layernorm'), config.rmsNormEps)
      : down
    const residPost = add(residMid, mlpOut)
    layers.push({ residPre, attnHeads, attnOut, residMid, mlpGate, mlpAct, mlpOut, residPost })
    residual = residPost
  }
  const finalNormed = rmsNorm(residual, seq, weight(checkpoint, 'model.norm.weight'), config.rmsNormEps)
  const head = weight(checkpoint, config.tieWordEmbeddings ? 'model.embed_tokens.weight' : 'lm_head.weight')
  const logits = linear(finalNormed, seq, head, config.vocabSize)
  return { logits: logits.map((value) => softcap(value, config.finalLogitSoftcap)), layers }
}

/** Logits `[seq, vocab]` of one unpadded sequence (positions 0..seq-1). */
export function referenceForward(checkpoint: LlamaCheckpoint, tokens: number[]): Float32Array {
  return referenceTrace(checkpoint, tokens).logits
}

/** Index of the largest logit in row `row` of `[rows, vocab]` logits. */
export function argmaxRow(logits: Float32Array, vocab: number, row: number): number {
  let best = 0
  for (let index = 1; index < vocab; index++) {
    if ((logits[row * vocab + index] ?? -Infinity) > (logits[row * vocab + best] ?? -Infinity)) best = index
  }
  return best
}

/** Greedy continuation by repeated full reference forwards (slow; for a handful of tokens on tiny models). */
export function referenceGreedy(checkpoint: LlamaCheckpoint, prompt: number[], newTokens: number): number[] {
  const tokens = [...prompt]
  const vocab = checkpoint.config.vocabSize
  for (let step = 0; step < newTokens; step++) {
    const logits = referenceForward(checkpoint, tokens)
    tokens.push(argmaxRow(logits, vocab, tokens.length - 1))
  }
  return tokens.slice(prompt.length)
}
