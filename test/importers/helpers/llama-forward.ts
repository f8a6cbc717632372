import type { LlamaCheckpoint, WeightTensor } from '../../../src/main/core/models/checkpoint.ts'
import { fromFloat16 } from '../../../src/main/core/onnx/float16.ts'

/**
 * A direct Float32Array Llama forward pass over a whole sequence (no cache), in Hugging Face conventions:
 * RMSNorm, grouped-query attention with rotate_half RoPE (pairs i and i + headDim/2), SwiGLU MLP, tied or separate
 * classifier. Slow but obvious; the reference for tests on tiny models.
 */

function weight(checkpoint: LlamaCheckpoint, name: string): Float32Array {
  const tensor: WeightTensor | undefined = checkpoint.weights.get(name)
  if (tensor === undefined) throw new Error(`checkpoint has no ${name}`)
  return tensor.data instanceof Float32Array ? tensor.data : fromFloat16(tensor.data)
}

/** x `[columns]`, matrix `[rows, columns]` -> `[rows]`. */
function matrixVector(matrix: Float32Array, vector: Float32Array, rows: number): Float32Array {
  const columns = vector.length
  const result = new Float32Array(rows)
  for (let row = 0; row < rows; row++) {
    let sum = 0
    for (let column = 0; column < columns; column++)
      sum += (matrix[row * columns + column] ?? 0) * (vector[column] ?? 0)
    result[row] = sum
  }
  return result
}

/** `[hidden]` -> `[hidden]`. */
function rmsNorm(vector: Float32Array, scale: Float32Array, epsilon: number): Float32Array {
  let sumOfSquares = 0
  for (const value of vector) sumOfSquares += value * value
  const inverse = 1 / Math.sqrt(sumOfSquares / vector.length + epsilon)
  return vector.map((value, index) => value * inverse * (scale[index] ?? 0))
}

/** Rotates each head of `[heads * headDim]` in place, rotate_half convention, at `position`. */
export function applyRotateHalfRope(
  vector: Float32Array,
  headDim: number,
  position: number,
  theta: number,
): void {
  const half = headDim / 2
  for (let start = 0; start < vector.length; start += headDim) {
    for (let index = 0; index < half; index++) {
      const angle = position * theta ** ((-2 * index) / headDim)
      const first = vector[start + index] ?? 0
      const second = vector[start + index + half] ?? 0
      vector[start + index] = first * Math.cos(angle) - second * Math.sin(angle)
      vector[start + index + half] = second * Math.cos(angle) + first * Math.sin(angle)
    }
  }
}

/** token ids `[seq]` -> logits `[seq][vocab]`. */
export function llamaForward(checkpoint: LlamaCheckpoint, tokens: readonly number[]): Float32Array[] {
  const config = checkpoint.config
  const { hiddenSize: hidden, headDim, numHeads, numKeyValueHeads, intermediateSize, vocabSize } = config
  const embedding = weight(checkpoint, 'model.embed_tokens.weight')
  let states = tokens.map((token) => embedding.slice(token * hidden, (token + 1) * hidden))
  for (let layer = 0; layer < config.numLayers; layer++) {
    const prefix = `model.layers.${layer}`
    const w = (name: string): Float32Array => weight(checkpoint, `${prefix}.${name}`)
    const normed = states.map((state) => rmsNorm(state, w('input_layernorm.weight'), config.rmsNormEps))
    const queries = normed.map((vector, position) => {
      const query = matrixVector(w('self_attn.q_proj.weight'), vector, numHeads * headDim)
      applyRotateHalfRope(query, headDim, position, config.ropeTheta)
      return query
    })
    const keys = normed.map((vector, position) => {
      const key = matrixVector(w('self_attn.k_proj.weight'), vector, numKeyValueHeads * headDim)
      applyRotateHalfRope(key, headDim, position, config.ropeTheta)
      return key
    })
    const values = normed.map((vector) =>
      matrixVector(w('self_attn.v_proj.weight'), vector, numKeyValueHeads * headDim),
    )
    states = states.map((state, position) => {
      const heads = new Float32Array(numHeads * headDim)
      for (let head = 0; head < numHeads; head++) {
        const kvHead = Math.floor(head / (numHeads / numKeyValueHeads))
        const scores = Array.from({ length: position + 1 }, (_, past) => {
          let dot = 0
          for (let index = 0; index < headDim; index++) {
            dot +=
              (queries[position]?.[head * headDim + index] ?? 0) *
              (keys[past]?.[kvHead * headDim + index] ?? 0)
          }
          return dot / Math.sqrt(headDim)
        })
        const maximum = Math.max(...scores)
        const exponents = scores.map((score) => Math.exp(score - maximum))
        const total = exponents.reduce((sum, value) => sum + value, 0)
        exponents.forEach((exponent, past) => {
          for (let index = 0; index < headDim; index++) {
            heads[head * headDim + index] =
              (heads[head * headDim + index] ?? 0) +
              (exponent / total) * (values[past]?.[kvHead * headDim + index] ?? 0)
          }
        })
      }
      const attention = matrixVector(w('self_attn.o_proj.weight'), heads, hidden)
      const residual = state.map((value, index) => value + (attention[index] ?? 0))
      const mlpInput = rmsNorm(residual, w('post_attention_layernorm.weight'), config.rmsNormEps)
      const gate = matrixVector(w('mlp.gate_proj.weight'), mlpInput, intermediateSize)
      const up = matrixVector(w('mlp.up_proj.weight'), mlpInput, intermediateSize)
      const activation = gate.map((value, index) => (value / (1 + Math.exp(-value))) * (up[index] ?? 0))
      const mlp = matrixVector(w('mlp.down_proj.weight'), activation, hidden)
      return residual.map((value, index) => value + (mlp[index] ?? 0))
    })
  }
  const classifier = config.tieWordEmbeddings ? embedding : weight(checkpoint, 'lm_head.weight')
  return states.map((state) =>
    matrixVector(
      classifier,
      rmsNorm(state, weight(checkpoint, 'model.norm.weight'), config.rmsNormEps),
      vocabSize,
    ),
  )
}
